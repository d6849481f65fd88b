//! Checking an export with nothing but the file (and the operator's public
//! key): the procedure an auditor runs, and re-implements if they wish
//! (README, "Checking an export offline").
//!
//! 1. Every line is one event, positions 1, 2, 3 … without gaps;
//! 2. each event's `prev_hash` is the previous event's `hash` (zeros for the
//!    first) and its `hash` is the SHA-256 of its canonical bytes; stream
//!    versions count up per stream; `recorded_at` never goes back;
//! 3. every `checkpoint.signed` event carries a valid Ed25519 signature by the
//!    given key over the head it names, and that head is in the chain;
//! 4. optionally, a head the auditor pinned earlier (`--expect-head`) is in
//!    the file with the same hash;
//! 5. at least one checkpoint verified, and nothing but checkpoints follows
//!    the last attested head (else the tail may have been cut or altered),
//!    unless the auditor allows an unattested tail.
//!
//! Without a public key steps 3 and 5 are skipped: the CLI does that only
//! when told so (`--no-signatures`), since a rewritten and consistently
//! re-hashed log passes the chain alone. `schema/LOG_FORMAT.md` is the
//! procedure's specification, failure by failure ([`OfflineError::verdict`]).

use std::io::BufRead;

use thiserror::Error;

use crate::event::{Hash, RecordedEvent};
use crate::integrity::checkpoint::{CheckpointChecker, CheckpointProblem, PublicKey};
use crate::integrity::{Broken, ChainChecker, ExpectedHead};

#[derive(Debug, Error)]
pub enum OfflineError {
    #[error("line {line}: not an exported event: {reason}")]
    Unreadable { line: u64, reason: String },
    #[error("line {line}: {broken}")]
    Broken { line: u64, broken: Broken },
    #[error("line {line}, position {position}: {problem}")]
    Checkpoint {
        line: u64,
        position: u64,
        problem: CheckpointProblem,
    },
    #[error("{unattested} event(s) after position {attested} are not covered by a signed checkpoint: the tail may have been cut off or altered after the last checkpoint")]
    UnattestedTail { attested: u64, unattested: u64 },
    #[error("the file holds no signed checkpoint")]
    NoCheckpoint,
    #[error("the file ends at position {last}, before the pinned head at position {expected}")]
    Truncated { expected: u64, last: u64 },
    #[error("position {position} has hash {found}, but the pinned head has {expected}")]
    PinnedHeadDiffers {
        position: u64,
        expected: Hash,
        found: Hash,
    },
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

impl OfflineError {
    /// The failure as `schema/LOG_FORMAT.md` names it: its kind, the
    /// position it names (none for a line that is no event, a file without
    /// checkpoints, or an I/O error) and the line it was found on (none for
    /// what only the whole file shows). An independent verifier must give
    /// the same three for the same file.
    pub fn verdict(&self) -> (&'static str, Option<u64>, Option<u64>) {
        use crate::integrity::Problem;
        match self {
            OfflineError::Unreadable { line, .. } => ("unreadable", None, Some(*line)),
            OfflineError::Broken { line, broken } => {
                let kind = match broken.problem {
                    Problem::PositionMissing { .. } => "position_missing",
                    Problem::PrevHashMismatch { .. } => "prev_hash_mismatch",
                    Problem::HashMismatch { .. } => "hash_mismatch",
                    Problem::StreamVersion { .. } => "stream_version",
                    Problem::TimeWentBack { .. } => "time_went_back",
                    Problem::Unreadable { .. } => "unreadable",
                    Problem::Truncated { .. } => "truncated",
                    Problem::HeadHashMismatch { .. } => "pinned_head_differs",
                };
                (kind, Some(broken.position), Some(*line))
            }
            OfflineError::Checkpoint {
                line,
                position,
                problem,
            } => {
                let kind = match problem {
                    CheckpointProblem::Unreadable(_) => "checkpoint_unreadable",
                    CheckpointProblem::OtherKey { .. } => "checkpoint_other_key",
                    CheckpointProblem::Signature(_) => "checkpoint_signature",
                    CheckpointProblem::NotBefore { .. } => "checkpoint_not_before",
                    CheckpointProblem::TooFarBack { .. } => "checkpoint_too_far_back",
                    CheckpointProblem::ChainDiffers { .. } => "checkpoint_chain_differs",
                    CheckpointProblem::RootDiffers { .. } => "checkpoint_root_differs",
                    CheckpointProblem::AccountsRootDiffers { .. } => {
                        "checkpoint_accounts_root_differs"
                    }
                };
                (kind, Some(*position), Some(*line))
            }
            OfflineError::UnattestedTail { attested, .. } => {
                ("unattested_tail", Some(*attested), None)
            }
            OfflineError::NoCheckpoint => ("no_checkpoint", None, None),
            OfflineError::Truncated { expected, .. } => ("truncated", Some(*expected), None),
            OfflineError::PinnedHeadDiffers { position, .. } => {
                ("pinned_head_differs", Some(*position), None)
            }
            OfflineError::Io(_) => ("io", None, None),
        }
    }
}

/// How the check should treat the tail.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineOptions {
    pub expected_head: Option<ExpectedHead>,
    /// Accept events after the last checkpoint (an export taken between
    /// checkpoints); they are then only as good as the chain.
    pub allow_unattested_tail: bool,
}

/// What the file proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineReport {
    pub events: u64,
    pub last_hash: Hash,
    pub checkpoints: u64,
    pub attested: u64,
    pub unattested: u64,
}

/// Checks an export (from position 1) line by line.
pub fn verify_export(
    input: impl BufRead,
    public: Option<PublicKey>,
    options: OfflineOptions,
) -> Result<OfflineReport, OfflineError> {
    let mut chain = ChainChecker::new();
    let mut checkpoints = public.map(CheckpointChecker::new);
    let mut pinned = None;
    for (index, line) in input.lines().enumerate() {
        let line_number = index as u64 + 1;
        let text = line?;
        if text.trim().is_empty() {
            continue;
        }
        let event: RecordedEvent =
            serde_json::from_str(&text).map_err(|e| OfflineError::Unreadable {
                line: line_number,
                reason: e.to_string(),
            })?;
        chain.check(&event).map_err(|broken| OfflineError::Broken {
            line: line_number,
            broken,
        })?;
        if let Some(checker) = checkpoints.as_mut() {
            checker
                .observe(&event)
                .map_err(|problem| OfflineError::Checkpoint {
                    line: line_number,
                    position: event.position,
                    problem,
                })?;
        }
        if options
            .expected_head
            .is_some_and(|h| h.position == event.position)
        {
            pinned = Some(event.hash);
        }
    }
    if let Some(expected) = options.expected_head {
        match pinned {
            None if expected.position > 0 => {
                return Err(OfflineError::Truncated {
                    expected: expected.position,
                    last: chain.last_position(),
                })
            }
            Some(found) if found != expected.hash => {
                return Err(OfflineError::PinnedHeadDiffers {
                    position: expected.position,
                    expected: expected.hash,
                    found,
                })
            }
            _ => {}
        }
    }
    let (checked, attested, unattested) = checkpoints
        .as_ref()
        .map_or((0, 0, 0), |c| (c.checked, c.attested, c.unattested));
    if let Some(checker) = &checkpoints {
        if checker.checked == 0 && !options.allow_unattested_tail {
            return Err(OfflineError::NoCheckpoint);
        }
        if checker.unattested > 0 && !options.allow_unattested_tail {
            return Err(OfflineError::UnattestedTail {
                attested,
                unattested,
            });
        }
    }
    Ok(OfflineReport {
        events: chain.last_position(),
        last_hash: chain.last_hash(),
        checkpoints: checked,
        attested,
        unattested,
    })
}
