//! Merkle proofs over the log, on both backends: the stored tree gives the
//! roots a leaf-by-leaf fold gives, for every size; inclusion and
//! consistency proofs verify against the roots signed checkpoints carry;
//! a forged inclusion proof, a proof for another entry, and a consistency
//! proof between logs that diverged are refused and named.

use portal_ledger::event::{Hash, RecordedEvent};
use portal_ledger::integrity::checkpoint::{append_checkpoint, CheckpointSigner};
use portal_ledger::integrity::merkle::{self, Frontier, ProofError};
use portal_ledger::integrity::proof_check::{check_proof, ProofCheckError, Proved};
use portal_ledger::integrity::proofs::{prove_consistency, prove_inclusion};
use portal_ledger::store::ReadFilter;

use crate::support::{self, TestStore};

async fn all_events(t: &TestStore) -> Vec<RecordedEvent> {
    t.store
        .read_all(1, 100_000, &ReadFilter::all())
        .await
        .unwrap()
}

on_both_backends!(
    stored_roots_and_proofs_match_the_tree_of_the_log,
    |t: TestStore| async move {
        // 75 events: four stored blocks of 16 and a partial one.
        support::fill(&t.store, 75).await;
        let tree = t.backend.merkle_tree();
        let events = all_events(&t).await;
        let mut frontier = Frontier::new();
        let mut roots = vec![merkle::empty_root()];
        for event in &events {
            frontier.push(&event.hash);
            roots.push(frontier.root());
        }
        // Asked out of order, so the tree is extended on demand.
        for size in [75u64, 1, 16, 17, 33, 64, 65, 2, 48] {
            assert_eq!(
                tree.root(size).await.unwrap(),
                roots[size as usize],
                "size {size}"
            );
        }
        for (position, size) in [
            (1u64, 1u64),
            (1, 75),
            (16, 75),
            (17, 75),
            (75, 75),
            (40, 64),
            (64, 65),
        ] {
            let path = tree.inclusion(position, size).await.unwrap();
            merkle::verify_inclusion(
                position - 1,
                size,
                &events[position as usize - 1].hash,
                &path,
                &roots[size as usize],
            )
            .unwrap_or_else(|e| panic!("{position} in {size}: {e}"));
        }
        for (from, to) in [
            (1u64, 75u64),
            (16, 75),
            (17, 64),
            (64, 65),
            (75, 75),
            (3, 7),
        ] {
            let proof = tree.consistency(from, to).await.unwrap();
            merkle::verify_consistency(
                from,
                to,
                &roots[from as usize],
                &roots[to as usize],
                &proof,
            )
            .unwrap_or_else(|e| panic!("{from} to {to}: {e}"));
        }
        // Beyond the head, or a position beyond the size: refused.
        assert!(tree.root(76).await.is_err());
        assert!(tree.inclusion(10, 9).await.is_err());
        assert!(tree.consistency(0, 5).await.is_err());
    }
);

on_both_backends!(
    proofs_check_against_signed_roots_and_forgeries_are_named,
    |t: TestStore| async move {
        let signer = CheckpointSigner::generate().unwrap();
        let public = signer.public();
        support::fill(&t.store, 20).await;
        let tree = t.backend.merkle_tree();
        let first = append_checkpoint(&tree, &signer).await.unwrap();
        support::fill(&t.store, 30).await;
        let second = append_checkpoint(&tree, &signer).await.unwrap();
        let (old, new) = (first.payload.head_position, second.payload.head_position);

        let proof = prove_inclusion(&tree, 7, new).await.unwrap();
        assert_eq!(proof.checkpoint.as_ref().unwrap().position, second.position);
        let text = serde_json::to_string(&proof).unwrap();
        assert_eq!(
            check_proof(&text, Some(&public), None).unwrap(),
            Proved::Included {
                position: 7,
                size: new,
                signed: true
            }
        );
        // With the entry's exported line, whose hash is recomputed.
        let events = all_events(&t).await;
        let line = serde_json::to_string(&events[6]).unwrap();
        assert!(check_proof(&text, Some(&public), Some(&line)).is_ok());
        let other_line = serde_json::to_string(&events[7]).unwrap();
        assert!(matches!(
            check_proof(&text, Some(&public), Some(&other_line)),
            Err(ProofCheckError::Entry(_))
        ));
        // A forged path, another entry's hash, a root the operator did not sign.
        let mut forged = proof.clone();
        forged.audit_path[0] = Hash([1; 32]).to_hex();
        assert!(matches!(
            check_proof(
                &serde_json::to_string(&forged).unwrap(),
                Some(&public),
                None
            ),
            Err(ProofCheckError::Proof(ProofError::RootDiffers { .. }))
        ));
        let mut swapped = proof.clone();
        swapped.event_hash = events[8].hash.to_hex();
        assert!(check_proof(
            &serde_json::to_string(&swapped).unwrap(),
            Some(&public),
            None
        )
        .is_err());
        let mut unsigned_root = prove_inclusion(&tree, 7, new - 1).await.unwrap();
        assert!(unsigned_root.checkpoint.is_none());
        assert!(matches!(
            check_proof(
                &serde_json::to_string(&unsigned_root).unwrap(),
                Some(&public),
                None
            ),
            Err(ProofCheckError::NoCheckpoint { .. })
        ));
        unsigned_root.checkpoint = proof.checkpoint.clone();
        assert!(matches!(
            check_proof(
                &serde_json::to_string(&unsigned_root).unwrap(),
                Some(&public),
                None
            ),
            Err(ProofCheckError::Checkpoint { .. })
        ));
        let stranger = CheckpointSigner::generate().unwrap().public();
        assert!(matches!(
            check_proof(&text, Some(&stranger), None),
            Err(ProofCheckError::Checkpoint { .. })
        ));

        // Consistency between the two signed sizes.
        let consistency = prove_consistency(&tree, old, new).await.unwrap();
        let text = serde_json::to_string(&consistency).unwrap();
        assert_eq!(
            check_proof(&text, Some(&public), None).unwrap(),
            Proved::Consistent {
                from: old,
                to: new,
                signed: true
            }
        );

        // A log that diverged after the first checkpoint's head: same
        // first 19 events, then others. Its root for `new` is not
        // consistent with the real log's old root.
        let fork = TestStore::new(t.kind).await;
        let mut prefix = String::new();
        for event in &events[..(old as usize - 1)] {
            prefix.push_str(&serde_json::to_string(event).unwrap());
            prefix.push('\n');
        }
        portal_ledger::transfer::import::import_ndjson(
            fork.backend.bulk(),
            std::io::Cursor::new(prefix),
            |_| {},
        )
        .await
        .unwrap();
        support::fill(&fork.store, (new - old + 1) as usize).await;
        let fork_tree = fork.backend.merkle_tree();
        let diverged = prove_consistency(&fork_tree, old, new).await.unwrap();
        let mut mixed = diverged.clone();
        mixed.from_root = consistency.from_root.clone();
        assert!(matches!(
            check_proof(&serde_json::to_string(&mixed).unwrap(), None, None),
            Err(ProofCheckError::Proof(ProofError::RootDiffers { .. }))
        ));
        let mut claimed = consistency.clone();
        claimed.to_root = diverged.to_root.clone();
        claimed.proof = diverged.proof.clone();
        assert!(check_proof(&serde_json::to_string(&claimed).unwrap(), None, None).is_err());
    }
);
