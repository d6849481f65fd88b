//! Signed checkpoints and the offline check of an export, on both backends:
//! checkpoints verify against the chain, and a tampered export — a changed
//! byte, a removed line, reordered lines, a tail cut after a checkpoint, a
//! forged signature — is caught and named.

use crate::support;

use portal_ledger::chain::HashedFields;
use portal_ledger::event::{Hash, JsonObject, RecordedEvent};
use portal_ledger::integrity::checkpoint::{
    self, append_checkpoint, CheckpointProblem, CheckpointSigner, Roots,
};
use portal_ledger::integrity::offline::{verify_export, OfflineError, OfflineOptions};
use portal_ledger::integrity::{verify_store_with_checkpoints, ExpectedHead, Problem, VerifyError};
use portal_ledger::store::{ExpectedVersion, ReadFilter, StreamAppend};

/// Roots nobody checks (the checkpoint fails before they are).
fn no_roots() -> Roots {
    Roots {
        tree: Hash([0; 32]),
        accounts: Hash([0; 32]),
    }
}

/// The log's true roots at `size`.
async fn roots(t: &support::TestStore, size: u64) -> Roots {
    let tree = t.backend.merkle_tree();
    Roots {
        tree: tree.root(size).await.unwrap(),
        accounts: tree.accounts_root(size).await.unwrap(),
    }
}

fn check(text: &str, signer: &CheckpointSigner) -> Result<u64, OfflineError> {
    verify_export(
        text.as_bytes(),
        Some(signer.public()),
        OfflineOptions::default(),
    )
    .map(|r| r.events)
}

on_both_backends!(
    checkpoints_sign_the_chain_and_exports_are_checked_offline,
    |t: support::TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        support::fill(&t.store, 20).await;
        let first = append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        assert_eq!(first.position, 21);
        assert_eq!(first.payload.head_position, 20);
        support::fill(&t.store, 10).await;
        let second = append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        assert_eq!(second.payload.head_position, 31);

        let (verified, checkpoints) =
            verify_store_with_checkpoints(t.store.clone(), None, signer.public(), |_| {})
                .await
                .unwrap();
        assert_eq!(verified.events, 32);
        assert_eq!((checkpoints.checked, checkpoints.attested), (2, 31));
        // Another key's checkpoints are refused, naming the position.
        let stranger = CheckpointSigner::generate().unwrap();
        match verify_store_with_checkpoints(t.store.clone(), None, stranger.public(), |_| {}).await
        {
            Err(VerifyError::Checkpoint { position, .. }) => assert_eq!(position, 21),
            other => panic!("expected a checkpoint error, got {other:?}"),
        }

        let mut export = Vec::new();
        portal_ledger::transfer::export::export_ndjson(t.store.clone(), 1, &mut export, |_| {})
            .await
            .unwrap();
        let export = String::from_utf8(export).unwrap();
        assert_eq!(check(&export, &signer).unwrap(), 32);
        let lines: Vec<&str> = export.lines().collect();
        let join = |lines: &[&str]| lines.join("\n") + "\n";

        // A changed byte in an event's payload.
        let mut changed = lines.clone();
        let altered = lines[4].replacen("\"n\":", "\"n\":1", 1);
        assert_ne!(altered, lines[4], "the fill payload has a number to change");
        changed[4] = &altered;
        match check(&join(&changed), &signer) {
            Err(OfflineError::Broken { line, broken }) => {
                assert_eq!((line, broken.position), (5, 5));
                assert!(matches!(broken.problem, Problem::HashMismatch { .. }));
            }
            other => panic!("changed byte: {other:?}"),
        }
        // A removed line.
        let mut removed = lines.clone();
        removed.remove(9);
        match check(&join(&removed), &signer) {
            Err(OfflineError::Broken { line, broken }) => {
                assert_eq!((line, broken.position), (10, 10));
                assert!(matches!(
                    broken.problem,
                    Problem::PositionMissing { found: 11 }
                ));
            }
            other => panic!("removed line: {other:?}"),
        }
        // Reordered lines.
        let mut reordered = lines.clone();
        reordered.swap(14, 15);
        match check(&join(&reordered), &signer) {
            Err(OfflineError::Broken { line, broken }) => {
                assert_eq!((line, broken.position), (15, 15))
            }
            other => panic!("reordered: {other:?}"),
        }
        // The tail cut after the first checkpoint (the second is gone).
        match check(&join(&lines[..25]), &signer) {
            Err(OfflineError::UnattestedTail {
                attested,
                unattested,
            }) => assert_eq!((attested, unattested), (20, 4)),
            other => panic!("truncated tail: {other:?}"),
        }
        // Cut exactly at a checkpoint: only a pinned head tells.
        assert_eq!(check(&join(&lines[..21]), &signer).unwrap(), 21);
        let pinned = ExpectedHead {
            position: second.payload.head_position,
            hash: portal_ledger::event::Hash::from_hex(&second.payload.head_hash).unwrap(),
        };
        match verify_export(
            join(&lines[..21]).as_bytes(),
            Some(signer.public()),
            OfflineOptions {
                expected_head: Some(pinned),
                allow_unattested_tail: false,
            },
        ) {
            Err(OfflineError::Truncated { expected, last }) => {
                assert_eq!((expected, last), (31, 21))
            }
            other => panic!("pinned head: {other:?}"),
        }
        // Someone with write access appends a checkpoint (with a valid
        // chain) signed by another key: named by line and position.
        let stranger_checkpoint = append_checkpoint(&t.backend.merkle_tree(), &stranger)
            .await
            .unwrap();
        let mut export = Vec::new();
        portal_ledger::transfer::export::export_ndjson(t.store.clone(), 1, &mut export, |_| {})
            .await
            .unwrap();
        let export = String::from_utf8(export).unwrap();
        match check(&export, &signer) {
            Err(OfflineError::Checkpoint {
                line,
                position,
                problem,
            }) => {
                assert_eq!((line, position), (33, stranger_checkpoint.position));
                assert!(problem.to_string().contains("key"), "{problem}");
            }
            other => panic!("other key: {other:?}"),
        }
        match verify_store_with_checkpoints(t.store.clone(), None, signer.public(), |_| {}).await {
            Err(VerifyError::Checkpoint { position, .. }) => {
                assert_eq!(position, stranger_checkpoint.position)
            }
            other => panic!("store with a stranger's checkpoint: {other:?}"),
        }
        // Without a key the chain alone is checked.
        let report = verify_export(export.as_bytes(), None, OfflineOptions::default()).unwrap();
        assert_eq!((report.events, report.checkpoints), (33, 0));
    }
);

/// The log as an export file, and its events.
async fn exported(t: &support::TestStore) -> (String, Vec<RecordedEvent>) {
    let mut export = Vec::new();
    portal_ledger::transfer::export::export_ndjson(t.store.clone(), 1, &mut export, |_| {})
        .await
        .unwrap();
    let export = String::from_utf8(export).unwrap();
    let events = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (export, events)
}

fn to_file(events: &[RecordedEvent]) -> String {
    events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect()
}

/// What a forger who knows the algorithm does: changes the payload of the
/// event at `position` and recomputes every later `prev_hash` and `hash`, so
/// the chain itself verifies again.
fn rewrite_and_rehash(events: &[RecordedEvent], position: u64) -> Vec<RecordedEvent> {
    let mut out: Vec<RecordedEvent> = Vec::with_capacity(events.len());
    for event in events {
        let mut event = event.clone();
        if event.position == position {
            let mut payload = event.payload.to_value();
            payload["n"] = serde_json::json!(4242);
            event.payload = JsonObject::from_value("payload", &payload).unwrap();
        }
        if event.position >= position {
            event.prev_hash = out.last().map_or(Hash::ZERO, |e| e.hash);
            event.hash = HashedFields::of(&event).chained_hash(&event.prev_hash);
        }
        out.push(event);
    }
    out
}

/// Appends a `checkpoint.signed` event with whatever payload (someone with
/// write access to the log, or a buggy signer).
async fn append_raw_checkpoint(t: &support::TestStore, payload: serde_json::Value) -> u64 {
    t.store
        .append(support::append_one(
            &format!("checkpoint-{}", uuid::Uuid::now_v7()),
            ExpectedVersion::NoStream,
            support::event(checkpoint::EVENT_TYPE, payload),
        ))
        .await
        .unwrap()
        .last_position()
}

fn offline_problem(text: &str, signer: &CheckpointSigner) -> (u64, u64, CheckpointProblem) {
    match check(text, signer) {
        Err(OfflineError::Checkpoint {
            line,
            position,
            problem,
        }) => (line, position, problem),
        other => panic!("expected a checkpoint problem, got {other:?}"),
    }
}

async fn store_problem(
    t: &support::TestStore,
    signer: &CheckpointSigner,
) -> (u64, CheckpointProblem) {
    match verify_store_with_checkpoints(t.store.clone(), None, signer.public(), |_| {}).await {
        Err(VerifyError::Checkpoint { position, problem }) => (position, problem),
        other => panic!("expected a checkpoint problem, got {other:?}"),
    }
}

on_both_backends!(
    a_rewritten_and_rehashed_export_differs_from_its_checkpoint,
    |t: support::TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        support::fill(&t.store, 10).await;
        let first = append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        support::fill(&t.store, 5).await;
        append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        let (export, events) = exported(&t).await;
        assert_eq!(check(&export, &signer).unwrap(), 17);

        let forged = rewrite_and_rehash(&events, 5);
        assert_ne!(forged[4].payload, events[4].payload);
        let forged_file = to_file(&forged);
        // The chain alone cannot tell: it was recomputed consistently.
        let chain_only =
            verify_export(forged_file.as_bytes(), None, OfflineOptions::default()).unwrap();
        assert_eq!(chain_only.events, 17);
        assert_eq!(chain_only.last_hash, forged[16].hash);
        // The first checkpoint's signature is valid, but it attests the
        // original hash at position 10.
        let (line, position, problem) = offline_problem(&forged_file, &signer);
        assert_eq!((line, position), (11, first.position));
        assert_eq!(
            problem,
            CheckpointProblem::ChainDiffers {
                head_position: 10,
                signed: events[9].hash,
                chain: forged[9].hash,
            }
        );
        assert!(
            problem.to_string().contains("but the chain has"),
            "{problem}"
        );
        // An event rewritten between the two checkpoints' heads passes the
        // first checkpoint and is named by the second.
        let forged_late = rewrite_and_rehash(&events, 13);
        let (line, _, problem) = offline_problem(&to_file(&forged_late), &signer);
        assert_eq!(line, 17);
        assert!(matches!(
            problem,
            CheckpointProblem::ChainDiffers {
                head_position: 16,
                ..
            }
        ));
    }
);

on_both_backends!(
    a_checkpoint_attesting_its_own_position_is_not_before,
    |t: support::TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        support::fill(&t.store, 6).await;
        let head = t.store.head().await.unwrap();

        // Attesting its own position (a signature made for a head the
        // checkpoint cannot follow).
        let own = signer.sign(head.position + 1, head.hash, no_roots());
        let at = append_raw_checkpoint(&t, serde_json::to_value(&own).unwrap()).await;
        assert_eq!(at, head.position + 1);
        let (position, problem) = store_problem(&t, &signer).await;
        assert_eq!(position, at);
        assert_eq!(
            problem,
            CheckpointProblem::NotBefore {
                head_position: head.position + 1
            }
        );
        let (export, _) = exported(&t).await;
        assert_eq!(
            offline_problem(&export, &signer),
            (
                at,
                at,
                CheckpointProblem::NotBefore {
                    head_position: head.position + 1
                }
            )
        );
    }
);

on_both_backends!(
    a_checkpoint_after_itself_is_not_before,
    |t: support::TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        support::fill(&t.store, 3).await;
        // A head beyond the checkpoint (position 9 from position 4).
        let ahead = signer.sign(9, Hash([9; 32]), no_roots());
        let at = append_raw_checkpoint(&t, serde_json::to_value(&ahead).unwrap()).await;
        assert_eq!(
            store_problem(&t, &signer).await,
            (at, CheckpointProblem::NotBefore { head_position: 9 })
        );
    }
);

on_both_backends!(
    a_bad_signature_with_the_right_key_id_is_refused,
    |t: support::TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        support::fill(&t.store, 5).await;
        let head = t.store.head().await.unwrap();
        // The right key id, a genuine signature — but over another position.
        let root = roots(&t, head.position).await;
        let other = signer.sign(head.position - 1, head.hash, root);
        let mut payload = signer.sign(head.position, head.hash, root);
        assert_eq!(payload.key_id, signer.public().key_id());
        payload.signature = other.signature;
        let at = append_raw_checkpoint(&t, serde_json::to_value(&payload).unwrap()).await;
        let (position, problem) = store_problem(&t, &signer).await;
        assert_eq!(position, at);
        match &problem {
            CheckpointProblem::Signature(reason) => assert!(
                reason.contains("does not verify") && reason.contains(&signer.public().key_id()),
                "{reason}"
            ),
            other => panic!("expected a bad signature, got {other:?}"),
        }
        let (export, _) = exported(&t).await;
        assert_eq!(offline_problem(&export, &signer), (at, at, problem));
    }
);

on_both_backends!(
    unreadable_lines_and_payloads_are_named,
    |t: support::TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        support::fill(&t.store, 4).await;
        append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        let (export, _) = exported(&t).await;
        let mut lines: Vec<String> = export.lines().map(str::to_owned).collect();
        lines[2] = "{\"position\": 3, \"not\": \"an event\"".to_owned();
        match check(&(lines.join("\n") + "\n"), &signer) {
            Err(OfflineError::Unreadable { line, reason }) => {
                assert_eq!(line, 3);
                assert!(!reason.is_empty());
            }
            other => panic!("expected an unreadable line, got {other:?}"),
        }
        // Blank lines are skipped, but still counted in line numbers.
        let (export, _) = exported(&t).await;
        let spaced = export.replacen('\n', "\n\n", 1);
        assert_eq!(check(&spaced, &signer).unwrap(), 5);

        // A checkpoint event whose payload is not a checkpoint.
        let at = append_raw_checkpoint(&t, serde_json::json!({"head_position": "five"})).await;
        let (position, problem) = store_problem(&t, &signer).await;
        assert_eq!(position, at);
        assert!(
            matches!(problem, CheckpointProblem::Unreadable(_)),
            "{problem:?}"
        );
        let (export, _) = exported(&t).await;
        let (line, position, offline) = offline_problem(&export, &signer);
        assert_eq!((line, position), (at, at));
        assert!(matches!(offline, CheckpointProblem::Unreadable(_)));
    }
);

on_both_backends!(
    a_pinned_head_with_another_hash_is_named,
    |t: support::TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        support::fill(&t.store, 8).await;
        append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        let (export, events) = exported(&t).await;
        let pin = |position: u64, hash: Hash| OfflineOptions {
            expected_head: Some(ExpectedHead { position, hash }),
            allow_unattested_tail: false,
        };
        let ok = verify_export(
            export.as_bytes(),
            Some(signer.public()),
            pin(5, events[4].hash),
        )
        .unwrap();
        assert_eq!((ok.events, ok.attested), (9, 8));
        match verify_export(
            export.as_bytes(),
            Some(signer.public()),
            pin(5, events[5].hash),
        ) {
            Err(OfflineError::PinnedHeadDiffers {
                position,
                expected,
                found,
            }) => assert_eq!(
                (position, expected, found),
                (5, events[5].hash, events[4].hash)
            ),
            other => panic!("expected the pinned head to differ, got {other:?}"),
        }
        // The same in a file whose chain was rewritten and rehashed after the
        // pin, without any checkpoint to tell (no key given).
        let forged = to_file(&rewrite_and_rehash(&events, 3));
        match verify_export(forged.as_bytes(), None, pin(5, events[4].hash)) {
            Err(OfflineError::PinnedHeadDiffers { position, .. }) => assert_eq!(position, 5),
            other => panic!("expected the pinned head to differ, got {other:?}"),
        }
    }
);

on_both_backends!(
    checkpoints_more_than_max_lag_back_are_too_far_back,
    |t: support::TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        let lag = checkpoint::MAX_LAG as u64;
        // MAX_LAG + 1 events, in appends of 10,000.
        let mut left = lag + 1;
        while left > 0 {
            let n = left.min(10_000);
            let events = (0..n)
                .map(|i| support::event("user.invited", serde_json::json!({ "n": i })))
                .collect();
            t.store
                .append(vec![StreamAppend::new(
                    support::stream(&format!("user-{}", uuid::Uuid::now_v7())),
                    ExpectedVersion::NoStream,
                    events,
                )])
                .await
                .unwrap();
            left -= n;
        }
        let all = t.store.read_all(1, 2, &ReadFilter::all()).await.unwrap();
        // At position MAX_LAG + 2, attesting position 2 is exactly MAX_LAG
        // back: still checked.
        let edge = signer.sign(2, all[1].hash, roots(&t, 2).await);
        let at = append_raw_checkpoint(&t, serde_json::to_value(&edge).unwrap()).await;
        assert_eq!(at, lag + 2);
        let (_, checked) =
            verify_store_with_checkpoints(t.store.clone(), None, signer.public(), |_| {})
                .await
                .unwrap();
        assert_eq!((checked.checked, checked.attested), (1, 2));
        // One position further back is refused.
        let far = signer.sign(1, all[0].hash, no_roots());
        let at = append_raw_checkpoint(&t, serde_json::to_value(&far).unwrap()).await;
        assert_eq!(
            store_problem(&t, &signer).await,
            (at, CheckpointProblem::TooFarBack { head_position: 1 })
        );
        let (export, _) = exported(&t).await;
        assert_eq!(
            offline_problem(&export, &signer),
            (at, at, CheckpointProblem::TooFarBack { head_position: 1 })
        );
    }
);
