//! The binary as an operator uses it: `serve`, `migrate`, `head`, `verify`,
//! `export`, `import`, with exit codes.

use crate::support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::process::{http_get, serve};
use support::TestStore;

fn portal_ledger(t: &TestStore, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
        .args(t.cli_args())
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run portal-ledger")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

on_both_backends!(
    operator_commands_work_end_to_end,
    |t: TestStore| async move {
        let migrate = portal_ledger(&t, &["migrate"]);
        assert!(migrate.status.success(), "{}", stderr(&migrate));

        let empty = portal_ledger(&t, &["head"]);
        assert!(empty.status.success());
        assert_eq!(
            stdout(&empty).lines().next().unwrap(),
            format!("0:{}", "0".repeat(64))
        );

        support::fill(&t.store, 25).await;
        let head = portal_ledger(&t, &["head"]);
        let head_line = stdout(&head).lines().next().unwrap().to_owned();
        assert!(head_line.starts_with("25:"));
        let head_json: serde_json::Value =
            serde_json::from_str(stdout(&head).lines().nth(1).unwrap()).unwrap();
        assert_eq!(head_json["position"], 25);

        let verify = portal_ledger(&t, &["verify", "--expect-head", &head_line]);
        assert!(verify.status.success(), "{}", stderr(&verify));
        assert!(stdout(&verify).starts_with("ok: 25 events"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log.ndjson");
        let export = portal_ledger(&t, &["export", "--out", file.to_str().unwrap()]);
        assert!(export.status.success(), "{}", stderr(&export));
        let to_stdout = portal_ledger(&t, &["export"]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout(&to_stdout));
        assert_eq!(stdout(&to_stdout).lines().count(), 25);

        // Import into a fresh store of the same kind: same head.
        let target = TestStore::new(t.kind).await;
        let import = portal_ledger(&target, &["import", file.to_str().unwrap()]);
        assert!(import.status.success(), "{}", stderr(&import));
        assert_eq!(
            stdout(&portal_ledger(&target, &["head"]))
                .lines()
                .next()
                .unwrap(),
            head_line
        );

        // A corrupted file: refused with the line, exit code 1, nothing appended.
        let text = std::fs::read_to_string(&file).unwrap();
        let bad = dir.path().join("bad.ndjson");
        let mut lines: Vec<&str> = text.lines().collect();
        lines[3] = "{\"broken\": true}";
        std::fs::write(&bad, lines.join("\n")).unwrap();
        let fresh = TestStore::new(t.kind).await;
        let refused = portal_ledger(&fresh, &["import", bad.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(1));
        assert!(stderr(&refused).contains("line 4"), "{}", stderr(&refused));
        assert!(stdout(&portal_ledger(&fresh, &["head"])).starts_with("0:"));

        // Import from standard input.
        let mut child = Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
            .args(fresh.cli_args())
            .args(["import", "-"])
            .env_remove("DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        assert!(child.wait().unwrap().success());
        assert_eq!(
            stdout(&portal_ledger(&fresh, &["head"]))
                .lines()
                .next()
                .unwrap(),
            head_line
        );
    }
);

/// Runs SQL against the store's database as its owner, around the
/// append-only triggers (PostgreSQL: replica mode, superuser only; SQLite:
/// dropping them).
async fn tamper(t: &TestStore, sql: &str) {
    match &t.location {
        portal_ledger::backend::StoreLocation::Postgres { .. } => {
            let client = t.database.as_ref().unwrap().owner_client().await;
            client
                .batch_execute(&format!("SET session_replication_role = replica; {sql}"))
                .await
                .unwrap();
        }
        portal_ledger::backend::StoreLocation::Embedded { data_dir } => {
            let conn = rusqlite::Connection::open(data_dir.join("events.sqlite3")).unwrap();
            conn.execute_batch(&format!(
                "DROP TRIGGER IF EXISTS events_refuse_update; \
                 DROP TRIGGER IF EXISTS events_refuse_delete; {sql}"
            ))
            .unwrap();
        }
    }
}

on_both_backends!(
    verify_exits_non_zero_and_names_the_position,
    |t: TestStore| async move {
        support::fill(&t.store, 10).await;
        let head_line = stdout(&portal_ledger(&t, &["head"]))
            .lines()
            .next()
            .unwrap()
            .to_owned();
        tamper(
            &t,
            "UPDATE events SET event_type = 'user.promoted' WHERE position = 4;",
        )
        .await;
        let verify = portal_ledger(&t, &["verify"]);
        assert_eq!(verify.status.code(), Some(1));
        assert!(
            stderr(&verify).contains("position 4:"),
            "{}",
            stderr(&verify)
        );

        tamper(&t, "DELETE FROM events WHERE position >= 4").await;
        assert!(portal_ledger(&t, &["verify"]).status.success());
        let truncated = portal_ledger(&t, &["verify", "--expect-head", &head_line]);
        assert_eq!(truncated.status.code(), Some(1));
        assert!(
            stderr(&truncated).contains("position 4:"),
            "{}",
            stderr(&truncated)
        );
        assert!(
            stderr(&truncated).contains("recorded before"),
            "{}",
            stderr(&truncated)
        );
    }
);

// Against PostgreSQL, `serve` gets the test database by `--database-url`.
on_both_backends!(serve_answers_health_and_head, |t: TestStore| async move {
    support::fill(&t.store, 3).await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal-ledger"));
    command
        .args(t.cli_args())
        .arg("serve")
        .env_remove("DATABASE_URL");
    // Killed even when an assertion below fails.
    let served = serve(command).await;
    let address = served.address.as_str();
    let mut health = None;
    for _ in 0..100 {
        if let Ok(response) = http_get(address, "/healthz").await {
            health = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = health.expect("server came up");
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    let (status, body) = http_get(address, "/readyz").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["head"], 3);
    let (status, body) = http_get(address, "/v1/log/head").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["position"], 3);
    assert_eq!(body["hash"], t.store.head().await.unwrap().hash.to_hex());
    let (status, body) = http_get(address, "/v1/nothing-here").await.unwrap();
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    drop(served);
});

on_both_backends!(rebuild_takes_projection_names, |t: TestStore| async move {
    support::fill(&t.store, 5).await;
    let all = portal_ledger(&t, &["rebuild"]);
    assert!(all.status.success(), "{}", stderr(&all));
    for name in [
        "accounts",
        "users",
        "activity",
        "invitations",
        "licenses",
        "servers",
        "tickets",
        "outbox",
        "sessions",
        "checkpoints",
        "quotes",
        "partner_kit",
        "account_entities",
    ] {
        assert!(
            stderr(&all).contains(&format!("rebuilt {name} up to position 5")),
            "{name}: {}",
            stderr(&all)
        );
    }
    let named = portal_ledger(&t, &["rebuild", "activity"]);
    assert!(named.status.success(), "{}", stderr(&named));
    assert_eq!(stderr(&named).trim(), "rebuilt activity up to position 5");
    let unknown = portal_ledger(&t, &["rebuild", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("unknown projection"),
        "{}",
        stderr(&unknown)
    );
});

on_both_backends!(
    bootstrap_prints_a_one_time_password_once,
    |t: TestStore| async move {
        let first = portal_ledger(&t, &["bootstrap", "--email", "root@platform.example"]);
        assert!(first.status.success(), "{}", stderr(&first));
        let password = stdout(&first)
            .lines()
            .find_map(|l| l.strip_prefix("one-time password: ").map(str::to_owned))
            .expect("a password line");
        assert_eq!(password.len(), 24);
        let auth = portal_ledger::app::sessions::Auth::new(
            portal_ledger::app::Ledger::new(t.store.clone(), t.personal.clone()),
            t.backend.credentials(),
        );
        auth.sign_in(
            &portal_ledger::app::CommandContext::system(),
            "root@platform.example",
            &password,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let again = portal_ledger(&t, &["bootstrap", "--email", "other@platform.example"]);
        assert_eq!(again.status.code(), Some(1));
        assert!(stderr(&again).contains("empty store"), "{}", stderr(&again));
        let bad = portal_ledger(&t, &["bootstrap", "--email", "not-an-address"]);
        assert_eq!(bad.status.code(), Some(1));
    }
);

on_both_backends!(
    auditors_check_signed_checkpoints_and_exports,
    |t: TestStore| async move {
        support::fill(&t.store, 12).await;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("signing.key");
        let keygen = portal_ledger(&t, &["keygen", "--out", key.to_str().unwrap()]);
        assert!(keygen.status.success(), "{}", stderr(&keygen));
        let public = stdout(&keygen).trim().to_owned();
        assert_eq!(public.len(), 64);
        // keygen never overwrites a key.
        let again = portal_ledger(&t, &["keygen", "--out", key.to_str().unwrap()]);
        assert!(!again.status.success());

        let checkpoint = portal_ledger(
            &t,
            &["checkpoint", "--signing-key-file", key.to_str().unwrap()],
        );
        assert!(checkpoint.status.success(), "{}", stderr(&checkpoint));
        assert!(stdout(&checkpoint).starts_with("12:"));

        // A Merkle proof of one entry, checked offline against the signed
        // root; a forged one is refused; without a key, no answer.
        let proved = portal_ledger(&t, &["prove-inclusion", "--position", "5", "--size", "12"]);
        assert!(proved.status.success(), "{}", stderr(&proved));
        let proof_file = dir.path().join("proof.json");
        std::fs::write(&proof_file, stdout(&proved)).unwrap();
        let proof_path = proof_file.to_str().unwrap();
        let checked = portal_ledger(&t, &["verify-proof", proof_path, "--public-key", &public]);
        assert!(checked.status.success(), "{}", stderr(&checked));
        assert!(
            stdout(&checked).contains("position 5 is in the log of 12"),
            "{}",
            stdout(&checked)
        );
        let unsure = portal_ledger(&t, &["verify-proof", proof_path]);
        assert_eq!(unsure.status.code(), Some(2));
        let mut forged: serde_json::Value = serde_json::from_str(&stdout(&proved)).unwrap();
        forged["audit_path"][0] = serde_json::json!("00".repeat(32));
        std::fs::write(&proof_file, forged.to_string()).unwrap();
        let refused = portal_ledger(&t, &["verify-proof", proof_path, "--public-key", &public]);
        assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
        assert!(
            stderr(&refused).contains("proof check failed"),
            "{}",
            stderr(&refused)
        );
        let consistent = portal_ledger(&t, &["prove-consistency", "--from", "3", "--to", "12"]);
        assert!(consistent.status.success(), "{}", stderr(&consistent));
        std::fs::write(&proof_file, stdout(&consistent)).unwrap();
        let checked = portal_ledger(&t, &["verify-proof", proof_path, "--no-signatures"]);
        assert!(checked.status.success(), "{}", stderr(&checked));
        let verify = portal_ledger(&t, &["verify", "--checkpoints", &public]);
        assert!(verify.status.success(), "{}", stderr(&verify));
        assert!(
            stdout(&verify).contains("1 signed checkpoints valid"),
            "{}",
            stdout(&verify)
        );

        let file = dir.path().join("export.ndjson");
        let export = portal_ledger(&t, &["export", "--out", file.to_str().unwrap()]);
        assert!(export.status.success(), "{}", stderr(&export));
        let offline = portal_ledger(
            &t,
            &[
                "verify-export",
                file.to_str().unwrap(),
                "--public-key",
                &public,
            ],
        );
        assert!(offline.status.success(), "{}", stderr(&offline));

        // Cut the checkpoint off the end and add it back without the last event.
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cut = dir.path().join("cut.ndjson");
        std::fs::write(&cut, lines[..11].join("\n") + "\n").unwrap();
        let offline = portal_ledger(
            &t,
            &[
                "verify-export",
                cut.to_str().unwrap(),
                "--public-key",
                &public,
            ],
        );
        assert_eq!(offline.status.code(), Some(1));
        assert!(
            stderr(&offline).contains("no signed checkpoint"),
            "{}",
            stderr(&offline)
        );
        let swapped = dir.path().join("swapped.ndjson");
        let mut reordered = lines.clone();
        reordered.swap(2, 3);
        std::fs::write(&swapped, reordered.join("\n") + "\n").unwrap();
        let offline = portal_ledger(
            &t,
            &[
                "verify-export",
                swapped.to_str().unwrap(),
                "--public-key",
                &public,
            ],
        );
        assert_eq!(offline.status.code(), Some(1));
        assert!(stderr(&offline).contains("line 3"), "{}", stderr(&offline));
    }
);

on_both_backends!(
    serve_signs_checkpoints_with_a_key_from_the_environment,
    |t: TestStore| async move {
        support::fill(&t.store, 4).await;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("signing.key");
        let keygen = portal_ledger(&t, &["keygen", "--out", key_file.to_str().unwrap()]);
        assert!(keygen.status.success(), "{}", stderr(&keygen));
        let public = stdout(&keygen).trim().to_owned();
        let key_id = stderr(&keygen)
            .split("key id ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .expect("keygen names the key id")
            .to_owned();
        assert_eq!(key_id.len(), 16);
        let seed = std::fs::read_to_string(&key_file)
            .unwrap()
            .trim()
            .to_owned();
        let with_env = |args: &[&str], seed: &str| {
            Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
                .args(t.cli_args())
                .args(args)
                .env_remove("DATABASE_URL")
                .env_remove("PORTAL_LEDGER_SIGNING_KEY_FILE")
                .env("PORTAL_LEDGER_SIGNING_KEY", seed)
                .env("RUST_LOG", "warn")
                .output()
                .expect("run portal-ledger")
        };

        // `checkpoint` with the seed in the environment, no file.
        let checkpoint = with_env(&["checkpoint"], &seed);
        assert!(checkpoint.status.success(), "{}", stderr(&checkpoint));
        assert!(
            stdout(&checkpoint).starts_with("4:"),
            "{}",
            stdout(&checkpoint)
        );
        assert!(
            stderr(&checkpoint).contains(&key_id),
            "{}",
            stderr(&checkpoint)
        );
        // A malformed seed in the environment is refused, nothing appended.
        let bad = with_env(&["checkpoint"], "not-a-seed");
        assert_eq!(bad.status.code(), Some(1));
        assert!(stderr(&bad).contains("signing key"), "{}", stderr(&bad));
        assert_eq!(t.store.head().await.unwrap().position, 5);

        // `serve --checkpoint-every 1` with the key from the environment.
        let mut command = Command::new(env!("CARGO_BIN_EXE_portal-ledger"));
        command
            .args(t.cli_args())
            .args(["serve", "--checkpoint-every", "1"])
            .env_remove("DATABASE_URL")
            .env_remove("PORTAL_LEDGER_SIGNING_KEY_FILE")
            .env("PORTAL_LEDGER_SIGNING_KEY", &seed);
        // Killed even when an assertion below fails.
        let server = serve(command).await;
        let address = server.address.as_str();
        {
            let mut key = None;
            for _ in 0..100 {
                if let Ok(response) = http_get(address, "/v1/checkpoints/public-key").await {
                    key = Some(response);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let (status, body) = key.expect("server came up");
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["algorithm"], "ed25519");
            assert_eq!(body["public_key"], public.as_str());
            assert_eq!(body["key_id"], key_id.as_str());
            // Checkpoints are appended every second: at least two more
            // within a bounded (and on a busy machine, generous) wait.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let signed: Vec<u64> = loop {
                let signed: Vec<u64> = t
                    .store
                    .read_all(1, 1000, &portal_ledger::store::ReadFilter::all())
                    .await
                    .unwrap()
                    .iter()
                    .filter(|e| e.event_type.as_str() == "checkpoint.signed")
                    .map(|e| e.position)
                    .collect();
                if signed.len() >= 3 || std::time::Instant::now() >= deadline {
                    break signed;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let checkpoints = signed.len();
            assert!(
                checkpoints >= 3,
                "only {checkpoints} checkpoints after 60 s"
            );
            // The list is a read model: read it once it has the last
            // checkpoint seen (asking again, within a bound, while the
            // server answers that it has not projected it yet).
            let last = signed[checkpoints - 1];
            let deadline = std::time::Instant::now() + support::PROJECTION_WAIT;
            let (status, body) = loop {
                let (status, body) = http_get(address, &format!("/v1/checkpoints?position={last}"))
                    .await
                    .unwrap();
                if status != 503 || std::time::Instant::now() >= deadline {
                    break (status, body);
                }
            };
            assert_eq!(status, 200, "{body}");
            let listed = body["checkpoints"].as_array().unwrap();
            assert!(!listed.is_empty());
            assert!(
                listed.iter().all(|c| c["key_id"] == key_id.as_str()),
                "{body}"
            );
        }
        drop(server);
        // Every checkpoint the server signed verifies with the printed key.
        let verify = portal_ledger(&t, &["verify", "--checkpoints", &public]);
        assert!(verify.status.success(), "{}", stderr(&verify));
        let head = t.store.head().await.unwrap().position;
        assert!(head >= 7, "head {head}");
    }
);

on_both_backends!(
    a_rewritten_and_rehashed_log_fails_verify_export_and_verify_checkpoints,
    |t: TestStore| async move {
        use portal_ledger::chain::HashedFields;
        use portal_ledger::event::{Hash, JsonObject, RecordedEvent};

        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("signing.key");
        let keygen = portal_ledger(&t, &["keygen", "--out", key.to_str().unwrap()]);
        assert!(keygen.status.success(), "{}", stderr(&keygen));
        let public = stdout(&keygen).trim().to_owned();
        support::fill(&t.store, 6).await;
        let signing = ["checkpoint", "--signing-key-file", key.to_str().unwrap()];
        assert!(portal_ledger(&t, &signing).status.success());
        support::fill(&t.store, 2).await;
        assert!(portal_ledger(&t, &signing).status.success());
        let export = portal_ledger(&t, &["export"]);
        assert!(export.status.success());

        // Change event 3 and rehash everything after it: a consistent chain.
        let mut prev = Hash::ZERO;
        let mut forged = String::new();
        for line in stdout(&export).lines() {
            let mut event: RecordedEvent = serde_json::from_str(line).unwrap();
            if event.position == 3 {
                let mut payload = event.payload.to_value();
                payload["email"] = serde_json::json!("mallory@example.com");
                event.payload = JsonObject::from_value("payload", &payload).unwrap();
            }
            event.prev_hash = prev;
            event.hash = HashedFields::of(&event).chained_hash(&prev);
            prev = event.hash;
            forged.push_str(&serde_json::to_string(&event).unwrap());
            forged.push('\n');
        }
        let file = dir.path().join("forged.ndjson");
        std::fs::write(&file, &forged).unwrap();
        let path = file.to_str().unwrap();

        // Without a key the check refuses to say "ok" unless told to skip
        // the signatures.
        let unsure = portal_ledger(&t, &["verify-export", path]);
        assert_eq!(unsure.status.code(), Some(2), "{}", stderr(&unsure));
        assert!(
            stderr(&unsure).contains("--no-signatures"),
            "{}",
            stderr(&unsure)
        );
        let chain_only = portal_ledger(&t, &["verify-export", path, "--no-signatures"]);
        assert!(chain_only.status.success(), "{}", stderr(&chain_only));
        assert!(stderr(&chain_only).contains("checkpoints were not checked"));
        let offline = portal_ledger(&t, &["verify-export", path, "--public-key", &public]);
        assert_eq!(offline.status.code(), Some(1));
        let message = stderr(&offline);
        assert!(message.contains("line 7, position 7"), "{message}");
        assert!(
            message.contains("attests hash") && message.contains("but the chain has"),
            "{message}"
        );

        // The forged file imports into a fresh store (its chain is intact):
        // `verify` passes there, `verify --checkpoints` names the checkpoint.
        let fresh = TestStore::new(t.kind).await;
        let import = portal_ledger(&fresh, &["import", path]);
        assert!(import.status.success(), "{}", stderr(&import));
        let verify = portal_ledger(&fresh, &["verify"]);
        assert!(verify.status.success(), "{}", stderr(&verify));
        let checked = portal_ledger(&fresh, &["verify", "--checkpoints", &public]);
        assert_eq!(checked.status.code(), Some(1));
        let message = stderr(&checked);
        assert!(message.contains("position 7"), "{message}");
        assert!(message.contains("but the chain has"), "{message}");
        // The original store still verifies with its checkpoints.
        let original = portal_ledger(&t, &["verify", "--checkpoints", &public]);
        assert!(original.status.success(), "{}", stderr(&original));
    }
);
