//! Signed checkpoints and the offline check of an export, on both backends:
//! checkpoints verify against the chain, and a tampered export — a changed
//! byte, a removed line, reordered lines, a tail cut after a checkpoint, a
//! forged signature — is caught and named.

mod support;

use portal_ledger::integrity::checkpoint::{append_checkpoint, CheckpointSigner};
use portal_ledger::integrity::offline::{verify_export, OfflineError, OfflineOptions};
use portal_ledger::verify::{verify_store_with_checkpoints, ExpectedHead, Problem, VerifyError};

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
        let first = append_checkpoint(t.store.as_ref(), &signer).await.unwrap();
        assert_eq!(first.position, 21);
        assert_eq!(first.payload.head_position, 20);
        support::fill(&t.store, 10).await;
        let second = append_checkpoint(t.store.as_ref(), &signer).await.unwrap();
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
        let stranger_checkpoint = append_checkpoint(t.store.as_ref(), &stranger)
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
