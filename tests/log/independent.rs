//! Exports for the independent verifier (`tests/independent/verify.py`,
//! written from `schema/LOG_FORMAT.md` alone): a real log — domain events,
//! sealed personal data, legacy events with fractions and non-ASCII member
//! names, signed checkpoints — exported, and copies of it tampered with in
//! every way the offline procedure names. Each file goes to
//! `target/independent/` with this service's verdict (kind, position,
//! line) in `manifest.json`; `.ci/run` has the independent verifier check
//! every file and fails on any disagreement (`tests/independent/run.py`).
//!
//! This test itself checks that each tampering is caught as the procedure
//! says, so a file the manifest calls "ok" is one the service accepts.

use std::path::PathBuf;

use portal_ledger::chain::HashedFields;
use portal_ledger::event::{Hash, RecordedEvent};
use portal_ledger::integrity::checkpoint::CheckpointPayload;
use portal_ledger::integrity::checkpoint::{append_checkpoint, CheckpointSigner, PublicKey, Roots};
use portal_ledger::integrity::offline::{verify_export, OfflineOptions};
use portal_ledger::integrity::proof_check::check_proof;
use portal_ledger::integrity::proofs::{prove_consistency, prove_inclusion, CarriedCheckpoint};
use portal_ledger::integrity::witness::{witnessed_head, Witness};
use portal_ledger::integrity::ExpectedHead;
use portal_ledger::transfer::export::export_ndjson;
use portal_ledger::transfer::import::import_ndjson;
use serde_json::{json, Value};

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::CommandContext;
use portal_ledger::domain::ids::AccountId;
use portal_ledger::domain::role::AccountKind;

use crate::support::{self, Kind, TestStore};

/// Legacy history with what canonicalization must get right: fractions,
/// exponents, big exact integers, escapes, member names whose UTF-16
/// order differs from their code-point order.
const LEGACY: &str = r#"{"stream_id":"invoice-1","event_type":"invoice.issued","payload":{"amount":1234.5,"rate":0.1,"tiny":1.25e-7,"huge":1e21,"count":9007199254740992,"neg":-0.5,"names":{"｡":1,"😀":2,"a":3,"Z":4},"text":"tab\there \"quoted\" \\ é"},"metadata":{"actor":"legacy"},"recorded_at":"2019-03-03T10:00:00.123456Z"}
{"stream_id":"invoice-1","event_type":"invoice.paid","payload":{"amount":"12345678901234567890","at":[1,2.5,null,true,false,{}]},"recorded_at":"2019-03-04T10:00:00Z"}"#;

/// One file for the verifiers: how to call them and what this service says.
struct Case {
    name: &'static str,
    lines: Vec<String>,
    /// `--public-key HEX` or `--no-signatures`, then any other flags.
    args: Vec<String>,
}

fn rehash_from(lines: &mut [String], from: usize) {
    let mut prev = if from == 0 {
        Hash::ZERO
    } else {
        serde_json::from_str::<RecordedEvent>(&lines[from - 1])
            .unwrap()
            .hash
    };
    for line in lines.iter_mut().skip(from) {
        let mut event: RecordedEvent = serde_json::from_str(line).unwrap();
        event.prev_hash = prev;
        event.hash = HashedFields::of(&event).chained_hash(&prev);
        prev = event.hash;
        *line = serde_json::to_string(&event).unwrap();
    }
}

fn edit(line: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(line).unwrap();
    change(&mut value);
    serde_json::to_string(&value).unwrap()
}

fn verdict(case: &Case) -> Value {
    let text = case.lines.join("\n") + "\n";
    let key = case
        .args
        .iter()
        .position(|a| a == "--public-key")
        .map(|i| PublicKey::from_hex(&case.args[i + 1]).unwrap());
    let expected_head = case
        .args
        .iter()
        .position(|a| a == "--expect-head")
        .map(|i| case.args[i + 1].parse::<ExpectedHead>().unwrap());
    let options = OfflineOptions {
        expected_head,
        allow_unattested_tail: case.args.iter().any(|a| a == "--allow-unattested-tail"),
    };
    match verify_export(text.as_bytes(), key, options) {
        Ok(report) => json!({ "verdict": "ok", "events": report.events }),
        Err(e) => {
            let (kind, position, line) = e.verdict();
            json!({ "verdict": kind, "position": position, "line": line, "message": e.to_string() })
        }
    }
}

on_both_backends!(
    tampered_exports_for_the_independent_verifier,
    |t: TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        import_ndjson(
            t.backend.bulk(),
            std::io::Cursor::new(LEGACY.to_owned()),
            |_| {},
        )
        .await
        .unwrap();
        // Domain events through the real pipeline (sealed personal data,
        // full metadata), with checkpoints between them.
        let ledger = portal_ledger::app::Ledger::new(t.store.clone(), t.personal.clone());
        let platform = AccountId(uuid::Uuid::now_v7());
        ledger
            .run(
                &CommandContext::system(),
                CreateAccount {
                    account_id: platform,
                    kind: AccountKind::Platform,
                    name: "Platform".into(),
                    parent: None,
                },
            )
            .await
            .unwrap();
        append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        for n in 0..3 {
            support::user_in(
                &ledger,
                platform,
                &format!("user{n}@example.com"),
                portal_ledger::domain::role::Role::Support,
            )
            .await;
        }
        support::fill(&t.store, 5).await;
        append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        let mut out = Vec::new();
        export_ndjson(t.store.clone(), 1, &mut out, |_| {})
            .await
            .unwrap();
        let lines: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let events: Vec<RecordedEvent> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let last = events.len();
        let checkpoint_lines: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.event_type.as_str() == "checkpoint.signed")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(checkpoint_lines.len(), 2);
        assert_eq!(
            checkpoint_lines[1],
            last - 1,
            "the export ends with a checkpoint"
        );
        let key = vec!["--public-key".to_owned(), signer.public().to_hex()];
        let with = |extra: &[String]| [key.clone(), extra.to_vec()].concat();
        let head = |i: usize| format!("{}:{}", events[i].position, events[i].hash);
        let middle = 4;

        let mut cases = vec![
            Case {
                name: "intact",
                lines: lines.clone(),
                args: key.clone(),
            },
            Case {
                name: "intact_without_signatures",
                lines: lines.clone(),
                args: vec!["--no-signatures".into()],
            },
            Case {
                name: "intact_pinned",
                lines: lines.clone(),
                args: with(&["--expect-head".into(), head(checkpoint_lines[0] - 1)]),
            },
        ];
        let mut edited = lines.clone();
        edited[1] = edited[1].replacen("2.5", "2.6", 1);
        cases.push(Case {
            name: "payload_edited",
            lines: edited,
            args: key.clone(),
        });
        let mut dropped = lines.clone();
        dropped.remove(middle);
        cases.push(Case {
            name: "line_dropped",
            lines: dropped,
            args: key.clone(),
        });
        let mut swapped = lines.clone();
        swapped.swap(middle, middle + 1);
        cases.push(Case {
            name: "lines_swapped",
            lines: swapped,
            args: key.clone(),
        });
        let mut rewritten = lines.clone();
        rewritten[0] = edit(&rewritten[0], |v| v["payload"]["amount"] = json!(999));
        rehash_from(&mut rewritten, 0);
        cases.push(Case {
            name: "rewritten_and_rehashed",
            lines: rewritten.clone(),
            args: key.clone(),
        });
        cases.push(Case {
            name: "rewritten_and_rehashed_without_signatures",
            lines: rewritten,
            args: vec!["--no-signatures".into()],
        });
        let mut forged = lines.clone();
        let at = checkpoint_lines[0];
        forged[at] = edit(&forged[at], |v| {
            let signature = v["payload"]["signature"].as_str().unwrap().to_owned();
            let flipped = if signature.starts_with('0') { "1" } else { "0" };
            v["payload"]["signature"] = json!(format!("{flipped}{}", &signature[1..]));
        });
        rehash_from(&mut forged, at);
        cases.push(Case {
            name: "forged_signature",
            lines: forged,
            args: key.clone(),
        });
        let stranger = CheckpointSigner::generate().unwrap();
        cases.push(Case {
            name: "another_key",
            lines: lines.clone(),
            args: vec!["--public-key".into(), stranger.public().to_hex()],
        });
        let mut premature = lines.clone();
        let at = checkpoint_lines[0];
        let ahead = signer.sign(
            events[at].position + 3,
            events[at].hash,
            Roots {
                tree: Hash([0; 32]),
                accounts: Hash([0; 32]),
            },
        );
        premature[at] = edit(&premature[at], |v| {
            v["payload"] = serde_json::to_value(&ahead).unwrap()
        });
        rehash_from(&mut premature, at);
        cases.push(Case {
            name: "checkpoint_not_before",
            lines: premature,
            args: key.clone(),
        });
        // A genuine signature over the right head but another tree root.
        let mut wrong_root = lines.clone();
        let at = checkpoint_lines[1];
        let attested = events[at - 1].clone();
        let true_accounts = t
            .backend
            .merkle_tree()
            .accounts_root(attested.position)
            .await
            .unwrap();
        let lying = signer.sign(
            attested.position,
            attested.hash,
            Roots {
                tree: Hash([7; 32]),
                accounts: true_accounts,
            },
        );
        wrong_root[at] = edit(&wrong_root[at], |v| {
            v["payload"] = serde_json::to_value(&lying).unwrap()
        });
        rehash_from(&mut wrong_root, at);
        cases.push(Case {
            name: "checkpoint_root_differs",
            lines: wrong_root,
            args: key.clone(),
        });
        cases.push(Case {
            name: "tail_cut_after_checkpoint",
            lines: lines[..last - 1].to_vec(),
            args: key.clone(),
        });
        cases.push(Case {
            name: "tail_cut_allowed",
            lines: lines[..last - 1].to_vec(),
            args: with(&["--allow-unattested-tail".into()]),
        });
        cases.push(Case {
            name: "no_checkpoint",
            lines: lines[..checkpoint_lines[0]].to_vec(),
            args: key.clone(),
        });
        cases.push(Case {
            name: "pinned_beyond_the_file",
            lines: lines[..checkpoint_lines[0] + 1].to_vec(),
            args: with(&["--expect-head".into(), head(last - 2)]),
        });
        let other_hash = format!("{}:{}", events[middle].position, events[middle + 1].hash);
        cases.push(Case {
            name: "pinned_head_differs",
            lines: lines.clone(),
            args: with(&["--expect-head".into(), other_hash]),
        });
        let mut back = lines.clone();
        back[middle] = edit(&back[middle], |v| {
            v["recorded_at"] = json!("2001-01-01T00:00:00.000000Z")
        });
        rehash_from(&mut back, middle);
        cases.push(Case {
            name: "time_went_back",
            lines: back,
            args: key.clone(),
        });
        let mut version = lines.clone();
        version[middle] = edit(&version[middle], |v| v["stream_version"] = json!(7));
        rehash_from(&mut version, middle);
        cases.push(Case {
            name: "stream_version",
            lines: version,
            args: key.clone(),
        });
        let mut prev = lines.clone();
        prev[middle] = edit(&prev[middle], |v| v["prev_hash"] = json!("00".repeat(32)));
        cases.push(Case {
            name: "prev_hash",
            lines: prev,
            args: key.clone(),
        });
        let mut garbage = lines.clone();
        garbage[middle] = "{\"position\": \"seven\"}".into();
        cases.push(Case {
            name: "unreadable_line",
            lines: garbage,
            args: key.clone(),
        });

        // The service's verdicts, as the procedure names them.
        let mut manifest = Vec::new();
        for case in &cases {
            let verdict = verdict(case);
            let expected = match case.name {
                n if n.starts_with("intact")
                    || n == "tail_cut_allowed"
                    || n == "rewritten_and_rehashed_without_signatures" =>
                {
                    "ok"
                }
                "payload_edited" => "hash_mismatch",
                "line_dropped" | "lines_swapped" => "position_missing",
                "rewritten_and_rehashed" => "checkpoint_chain_differs",
                "forged_signature" => "checkpoint_signature",
                "another_key" => "checkpoint_other_key",
                "checkpoint_not_before" => "checkpoint_not_before",
                "checkpoint_root_differs" => "checkpoint_root_differs",
                "tail_cut_after_checkpoint" => "unattested_tail",
                "no_checkpoint" => "no_checkpoint",
                "pinned_beyond_the_file" => "truncated",
                "pinned_head_differs" => "pinned_head_differs",
                "time_went_back" => "time_went_back",
                "stream_version" => "stream_version",
                "prev_hash" => "prev_hash_mismatch",
                "unreadable_line" => "unreadable",
                other => panic!("no expectation for {other}"),
            };
            assert_eq!(verdict["verdict"], expected, "{}: {verdict}", case.name);
            manifest.push((case, verdict));
        }

        // Written once (the embedded run), for `.ci/run`.
        // Merkle proofs: intact and forged inclusion, consistency between
        // the two checkpoints and with a log that diverged, another key.
        let tree = t.backend.merkle_tree();
        let (first_head, last_head) = (
            events[checkpoint_lines[0]].position - 1,
            events[checkpoint_lines[1]].position - 1,
        );
        let check = |proof: &str, key: &PublicKey| match check_proof(proof, Some(key), None) {
            Ok(_) => json!({ "verdict": "ok" }),
            Err(e) => json!({ "verdict": e.verdict(), "position": null, "line": null }),
        };
        let mut proofs: Vec<(&str, String, &PublicKey, &str)> = Vec::new();
        let public = signer.public();
        let inclusion = prove_inclusion(&tree, 3, last_head).await.unwrap();
        proofs.push((
            "inclusion_proof",
            serde_json::to_string(&inclusion).unwrap(),
            &public,
            "ok",
        ));
        let mut forged = inclusion.clone();
        forged.audit_path[1] = Hash([3; 32]).to_hex();
        proofs.push((
            "forged_inclusion_proof",
            serde_json::to_string(&forged).unwrap(),
            &public,
            "proof_invalid",
        ));
        let consistency = prove_consistency(&tree, first_head, last_head)
            .await
            .unwrap();
        proofs.push((
            "consistency_proof",
            serde_json::to_string(&consistency).unwrap(),
            &public,
            "ok",
        ));
        let stranger_key = stranger.public();
        proofs.push((
            "proof_of_another_key",
            serde_json::to_string(&consistency).unwrap(),
            &stranger_key,
            "proof_checkpoint",
        ));
        let fork = TestStore::new(t.kind).await;
        import_ndjson(
            fork.backend.bulk(),
            std::io::Cursor::new(lines[..first_head as usize - 1].join("\n")),
            |_| {},
        )
        .await
        .unwrap();
        support::fill(&fork.store, (last_head - first_head + 1) as usize).await;
        let mut diverged = prove_consistency(&fork.backend.merkle_tree(), first_head, last_head)
            .await
            .unwrap();
        diverged.from_root = consistency.from_root.clone();
        diverged.from_checkpoint = consistency.from_checkpoint.clone();
        proofs.push((
            "diverged_consistency_proof",
            serde_json::to_string(&diverged).unwrap(),
            &public,
            "proof_invalid",
        ));
        for (name, text, key, expected) in &proofs {
            assert_eq!(check(text, key)["verdict"], *expected, "{name}");
        }

        // A witness directory holding the last checkpoint: the intact
        // export reaches it, one cut before it is truncated.
        let witnessed = tempfile::tempdir().unwrap();
        let last_checkpoint: Value = serde_json::from_str(&lines[checkpoint_lines[1]]).unwrap();
        let payload: CheckpointPayload =
            serde_json::from_value(last_checkpoint["payload"].clone()).unwrap();
        let carried = CarriedCheckpoint {
            position: last_checkpoint["position"].as_u64().unwrap(),
            head_position: payload.head_position,
            head_hash: payload.head_hash,
            tree_root: payload.tree_root,
            accounts_root: payload.accounts_root,
            key_id: payload.key_id,
            signature: payload.signature,
        };
        let witness = Witness::Directory(witnessed.path().to_path_buf());
        witness.publish(&carried).await.unwrap();
        let pinned = witnessed_head(&witness, Some(&public)).await.unwrap();
        let witness_verdict = |lines: &[String]| {
            let text = lines.join("\n") + "\n";
            let options = OfflineOptions {
                expected_head: pinned,
                allow_unattested_tail: true,
            };
            match verify_export(text.as_bytes(), Some(public), options) {
                Ok(report) => json!({ "verdict": "ok", "events": report.events }),
                Err(e) => {
                    let (kind, position, line) = e.verdict();
                    json!({ "verdict": kind, "position": position, "line": line })
                }
            }
        };
        let witness_args = vec![
            "--public-key".to_owned(),
            public.to_hex(),
            "--allow-unattested-tail".to_owned(),
        ];
        let cut_before = lines[..middle + 2].to_vec();
        assert_eq!(witness_verdict(&lines)["verdict"], "ok");
        assert_eq!(witness_verdict(&cut_before)["verdict"], "truncated");

        if t.kind == Kind::Embedded {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/independent");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let mut entries = Vec::new();
            for (case, verdict) in manifest {
                let file = format!("{}.ndjson", case.name);
                std::fs::write(dir.join(&file), case.lines.join("\n") + "\n").unwrap();
                entries.push(json!({ "file": file, "args": case.args, "service": verdict }));
            }
            for (name, text, key, _) in &proofs {
                let file = format!("{name}.json");
                std::fs::write(dir.join(&file), text).unwrap();
                entries.push(json!({
                    "file": file,
                    "args": ["--proof", "--public-key", key.to_hex()],
                    "service": check(text, key),
                }));
            }
            let witness_dir = dir.join("witness");
            let kept = Witness::Directory(witness_dir.clone());
            kept.publish(&carried).await.unwrap();
            for (name, file_lines) in [
                ("witnessed_intact", &lines),
                ("witnessed_truncated", &cut_before),
            ] {
                let file = format!("{name}.ndjson");
                std::fs::write(dir.join(&file), file_lines.join("\n") + "\n").unwrap();
                let mut args = witness_args.clone();
                args.extend([
                    "--witness-dir".to_owned(),
                    witness_dir.display().to_string(),
                ]);
                entries.push(
                    json!({ "file": file, "args": args, "service": witness_verdict(file_lines) }),
                );
            }
            std::fs::write(
                dir.join("manifest.json"),
                serde_json::to_string_pretty(&entries).unwrap(),
            )
            .unwrap();
        }
    }
);
