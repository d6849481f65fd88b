//! Witnessed checkpoints, with real processes: `checkpoint --witness …`
//! hands each signed checkpoint to an append-only directory, an HTTP
//! witness (`portal-ledger witness`, spawned) and a NATS JetStream subject
//! (the server on 127.0.0.1:4222); `verify --witness …` then catches a log
//! truncated with its checkpoints, and one rewritten after the witnessed
//! head, against each of them.

use std::process::{Command, Output};

use crate::support::process::serve;
use crate::support::{self, TestStore};

fn portal_ledger(t: &TestStore, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
        .args(t.cli_args())
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PORTAL_LEDGER_WITNESSES")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run portal-ledger")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A store holding the first `keep` events of `t`'s export (a log
/// truncated there), then `extra` other events.
async fn truncated_copy(t: &TestStore, keep: usize, extra: usize) -> TestStore {
    let mut out = Vec::new();
    portal_ledger::transfer::export::export_ndjson(t.store.clone(), 1, &mut out, |_| {})
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let kept: Vec<&str> = text.lines().take(keep).collect();
    let copy = TestStore::new(t.kind).await;
    portal_ledger::transfer::import::import_ndjson(
        copy.backend.bulk(),
        std::io::Cursor::new(kept.join("\n")),
        |_| {},
    )
    .await
    .unwrap();
    support::fill(&copy.store, extra).await;
    copy
}

on_both_backends!(
    witnesses_catch_a_log_truncated_with_its_checkpoints,
    |t: TestStore| async move {
        support::fill(&t.store, 10).await;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("signing.key");
        let keygen = portal_ledger(&t, &["keygen", "--out", key.to_str().unwrap()]);
        assert!(keygen.status.success(), "{}", text(&keygen));
        let public = String::from_utf8_lossy(&keygen.stdout).trim().to_owned();

        // The three witnesses: a directory, an HTTP witness process, a
        // NATS subject of this test's own.
        let directory = format!("dir:{}", dir.path().join("witnessed").display());
        let mut witness = Command::new(env!("CARGO_BIN_EXE_portal-ledger"));
        witness.args([
            "witness",
            "--dir",
            dir.path().join("http-witness").to_str().unwrap(),
            "--public-key",
            &public,
        ]);
        let http_witness = serve(witness).await;
        let http = format!("http://{}/checkpoints", http_witness.address);
        let nats = format!(
            "nats://127.0.0.1:4222/portal-ledger.checkpoints.test{}",
            uuid::Uuid::new_v4().simple()
        );
        let witnesses = [directory.as_str(), http.as_str(), nats.as_str()];

        // Nothing witnessed yet: verify says so and passes.
        for w in witnesses {
            let verified = portal_ledger(&t, &["verify", "--witness", w]);
            assert!(verified.status.success(), "{w}: {}", text(&verified));
            assert!(
                text(&verified).contains("holds no checkpoint yet"),
                "{}",
                text(&verified)
            );
        }
        let mut args = vec!["checkpoint", "--signing-key-file", key.to_str().unwrap()];
        for w in witnesses {
            args.extend(["--witness", w]);
        }
        let signed = portal_ledger(&t, &args);
        assert!(signed.status.success(), "{}", text(&signed));
        assert!(text(&signed).starts_with("10:"), "{}", text(&signed));
        support::fill(&t.store, 3).await;
        let signed = portal_ledger(&t, &args);
        assert!(signed.status.success(), "{}", text(&signed));
        assert!(text(&signed).starts_with("14:"), "{}", text(&signed));

        // The intact log agrees with every witness.
        for w in witnesses {
            let verified = portal_ledger(&t, &["verify", "--checkpoints", &public, "--witness", w]);
            assert!(verified.status.success(), "{w}: {}", text(&verified));
            assert!(
                text(&verified).contains("position 14, and the log agrees"),
                "{}",
                text(&verified)
            );
        }

        // Truncated before the last checkpoint, checkpoints and all: the
        // chain and its remaining checkpoint verify, every witness objects.
        let cut = truncated_copy(&t, 12, 0).await;
        let chain_only = portal_ledger(&cut, &["verify", "--checkpoints", &public]);
        assert!(chain_only.status.success(), "{}", text(&chain_only));
        for w in witnesses {
            let caught = portal_ledger(&cut, &["verify", "--checkpoints", &public, "--witness", w]);
            assert_eq!(caught.status.code(), Some(1), "{w}: {}", text(&caught));
            assert!(
                text(&caught).contains("the log ends at position 12: it was truncated"),
                "{w}: {}",
                text(&caught)
            );
        }
        // Offline too: an export of the truncated log, checked against
        // the head the witness holds.
        let exported = dir.path().join("cut.ndjson");
        let export = portal_ledger(&cut, &["export", "--out", exported.to_str().unwrap()]);
        assert!(export.status.success(), "{}", text(&export));
        for w in witnesses {
            let caught = portal_ledger(
                &cut,
                &[
                    "verify-export",
                    exported.to_str().unwrap(),
                    "--public-key",
                    &public,
                    "--allow-unattested-tail",
                    "--witness",
                    w,
                ],
            );
            assert_eq!(caught.status.code(), Some(1), "{w}: {}", text(&caught));
            assert!(
                text(&caught).contains("before the pinned head"),
                "{w}: {}",
                text(&caught)
            );
        }
        // Truncated and grown again past the witnessed head: another hash.
        let regrown = truncated_copy(&t, 12, 5).await;
        for w in witnesses {
            let caught = portal_ledger(&regrown, &["verify", "--witness", w]);
            assert_eq!(caught.status.code(), Some(1), "{w}: {}", text(&caught));
            assert!(
                text(&caught).contains("but the log has"),
                "{w}: {}",
                text(&caught)
            );
        }

        // The directory is append-only: the same checkpoint again is fine,
        // the HTTP witness refuses a checkpoint that does not verify.
        let again = portal_ledger(&t, &args);
        assert!(again.status.success(), "{}", text(&again));
        let forged = serde_json::json!({
            "position": 99, "head_position": 98, "head_hash": "00".repeat(32),
            "tree_root": "00".repeat(32), "key_id": "0000000000000000", "signature": "00".repeat(64)
        });
        let refused = support::process::http_request(
            &http_witness.address,
            "POST",
            "/checkpoints",
            &[],
            Some(&forged),
        )
        .await
        .unwrap();
        assert_eq!(refused.status, 422);
    }
);
