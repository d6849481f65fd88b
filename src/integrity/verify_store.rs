//! `verify`: the chain rules ([`super::chain_rules`]) over every event of a
//! store, page by page, and — with the operator's public key — every signed
//! checkpoint in it ([`super::checkpoint`]).
//!
//! Why apart from the rules: they are pure and also run over files
//! (`import`, `verify-export`); this is the one place they read a store.

use thiserror::Error;

use super::chain_rules::{Broken, ChainChecker, ExpectedHead, Problem};
use super::checkpoint::{CheckpointChecker, CheckpointProblem, PublicKey};
use crate::event::Hash;
use crate::store::pages::read_pages;
use crate::store::{ReadFilter, SharedStore, StoreError};

/// What `verify` found.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error(transparent)]
    Broken(#[from] Broken),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("position {position}: {problem}")]
    Checkpoint {
        position: u64,
        problem: CheckpointProblem,
    },
}

/// What `verify --checkpoints` found besides the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointsVerified {
    /// Checkpoints whose signature and head matched.
    pub checked: u64,
    /// The highest position a checkpoint attests.
    pub attested: u64,
    /// Ordinary events after it.
    pub unattested: u64,
}

/// [`verify_store`], also checking every signed checkpoint with `public`.
pub async fn verify_store_with_checkpoints(
    store: SharedStore,
    expected_head: Option<ExpectedHead>,
    public: PublicKey,
    on_progress: impl FnMut(u64),
) -> Result<(Verified, CheckpointsVerified), VerifyError> {
    let mut checker = CheckpointChecker::new(public);
    let verified = verify_inner(store, expected_head, Some(&mut checker), on_progress).await?;
    Ok((
        verified,
        CheckpointsVerified {
            checked: checker.checked,
            attested: checker.attested,
            unattested: checker.unattested,
        },
    ))
}

/// How far a verification got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    pub last_hash: Hash,
}

/// Recomputes the whole chain of a store. `on_progress` is called with the
/// number of events checked so far after each page.
pub async fn verify_store(
    store: SharedStore,
    expected_head: Option<ExpectedHead>,
    on_progress: impl FnMut(u64),
) -> Result<Verified, VerifyError> {
    verify_inner(store, expected_head, None, on_progress).await
}

async fn verify_inner(
    store: SharedStore,
    expected_head: Option<ExpectedHead>,
    mut checkpoints: Option<&mut CheckpointChecker>,
    mut on_progress: impl FnMut(u64),
) -> Result<Verified, VerifyError> {
    let mut checker = ChainChecker::new();
    let mut pages = read_pages(store, 1, ReadFilter::all());
    let mut hash_at_expected_head = None;
    while let Some(page) = pages.recv().await {
        let page = page.map_err(|e| match e {
            StoreError::Corrupt { position, reason } => VerifyError::Broken(Broken {
                position,
                problem: Problem::Unreadable { reason },
            }),
            other => VerifyError::Store(other),
        })?;
        for event in &page {
            checker.check(event)?;
            if let Some(checkpoints) = checkpoints.as_deref_mut() {
                checkpoints
                    .observe(event)
                    .map_err(|problem| VerifyError::Checkpoint {
                        position: event.position,
                        problem,
                    })?;
            }
            if expected_head.is_some_and(|h| h.position == event.position) {
                hash_at_expected_head = Some(event.hash);
            }
        }
        on_progress(checker.last_position());
    }
    if let Some(expected) = expected_head {
        match hash_at_expected_head {
            None if expected.position > 0 => {
                return Err(Broken {
                    position: checker.last_position() + 1,
                    problem: Problem::Truncated {
                        expected_head: expected.position,
                        last: checker.last_position(),
                    },
                }
                .into())
            }
            Some(stored) if stored != expected.hash => {
                return Err(Broken {
                    position: expected.position,
                    problem: Problem::HeadHashMismatch {
                        expected: expected.hash,
                        stored,
                    },
                }
                .into())
            }
            _ => {}
        }
    }
    Ok(Verified {
        events: checker.last_position(),
        last_hash: checker.last_hash(),
    })
}
