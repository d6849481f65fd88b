//! The rules a log must satisfy, checked event by event.
//!
//! [`ChainChecker`] is pure and streaming, so the same rules serve `verify`
//! (over a store, [`super::verify_store`]), `import` (over an NDJSON file,
//! before anything is written) and an auditor's offline check of an export
//! ([`super::offline`]).

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::chain::expected_hash;
use crate::event::{Hash, RecordedEvent};

/// What is wrong at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The event at this position is missing; the next stored is `found`.
    PositionMissing { found: u64 },
    /// The event's `prev_hash` is not the previous event's hash.
    PrevHashMismatch { expected: Hash, stored: Hash },
    /// The event's content does not hash to its stored hash.
    HashMismatch { computed: Hash, stored: Hash },
    /// The stream's versions are not 1, 2, 3 …
    StreamVersion {
        stream: String,
        expected: u64,
        stored: u64,
    },
    /// `recorded_at` went backwards.
    TimeWentBack {
        previous: DateTime<Utc>,
        stored: DateTime<Utc>,
    },
    /// The stored row does not even parse as an envelope.
    Unreadable { reason: String },
    /// A head recorded earlier is no longer in the log.
    Truncated { expected_head: u64, last: u64 },
    /// The event at a previously recorded head has another hash now.
    HeadHashMismatch { expected: Hash, stored: Hash },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::PositionMissing { found } => {
                write!(f, "event missing (the next stored position is {found})")
            }
            Problem::PrevHashMismatch { expected, stored } => write!(
                f,
                "prev_hash {stored} does not match the previous event's hash {expected}"
            ),
            Problem::HashMismatch { computed, stored } => write!(
                f,
                "content does not match its hash: stored {stored}, computed {computed}"
            ),
            Problem::StreamVersion { stream, expected, stored } => write!(
                f,
                "stream {stream} has version {stored} where {expected} was expected"
            ),
            Problem::TimeWentBack { previous, stored } => write!(
                f,
                "recorded_at {stored} is earlier than the previous event's {previous}"
            ),
            Problem::Unreadable { reason } => write!(f, "unreadable row: {reason}"),
            Problem::Truncated { expected_head, last } => write!(
                f,
                "the log ends at position {last} but a head at position {expected_head} was recorded before"
            ),
            Problem::HeadHashMismatch { expected, stored } => write!(
                f,
                "hash {stored} differs from the recorded head's {expected}"
            ),
        }
    }
}

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("position {position}: {problem}")]
pub struct Broken {
    pub position: u64,
    pub problem: Problem,
}

/// Checks events one at a time, in position order, from position 1 (or from
/// a known head, for an import that continues a log).
#[derive(Debug, Clone)]
pub struct ChainChecker {
    last_position: u64,
    last_hash: Hash,
    last_time: Option<DateTime<Utc>>,
    versions: HashMap<String, u64>,
}

impl Default for ChainChecker {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainChecker {
    /// A checker for a log that starts at position 1.
    pub fn new() -> Self {
        Self::continuing(0, Hash::ZERO, None, HashMap::new())
    }

    /// A checker that continues after `position` / `hash` with the given
    /// stream versions.
    pub fn continuing(
        position: u64,
        hash: Hash,
        last_time: Option<DateTime<Utc>>,
        versions: HashMap<String, u64>,
    ) -> Self {
        Self {
            last_position: position,
            last_hash: hash,
            last_time,
            versions,
        }
    }

    pub fn last_position(&self) -> u64 {
        self.last_position
    }

    pub fn last_hash(&self) -> Hash {
        self.last_hash
    }

    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        self.last_time
    }

    /// The next version of a stream, as the log stands.
    pub fn next_version(&self, stream: &str) -> u64 {
        self.versions.get(stream).copied().unwrap_or(0) + 1
    }

    /// Checks the next event and advances.
    pub fn check(&mut self, event: &RecordedEvent) -> Result<(), Broken> {
        self.check_inner(event, true)
    }

    /// Like [`check`](Self::check) for an event this process just hashed
    /// onto [`last_hash`](Self::last_hash) (a legacy import line): the hash
    /// is not recomputed, everything else is checked.
    pub fn check_own(&mut self, event: &RecordedEvent) -> Result<(), Broken> {
        self.check_inner(event, false)
    }

    fn check_inner(&mut self, event: &RecordedEvent, recompute_hash: bool) -> Result<(), Broken> {
        let expected_position = self.last_position + 1;
        if event.position != expected_position {
            return Err(Broken {
                position: expected_position,
                problem: Problem::PositionMissing {
                    found: event.position,
                },
            });
        }
        let broken = |problem| Broken {
            position: event.position,
            problem,
        };
        if event.prev_hash != self.last_hash {
            return Err(broken(Problem::PrevHashMismatch {
                expected: self.last_hash,
                stored: event.prev_hash,
            }));
        }
        let computed = if recompute_hash {
            expected_hash(event)
        } else {
            event.hash
        };
        if computed != event.hash {
            return Err(broken(Problem::HashMismatch {
                computed,
                stored: event.hash,
            }));
        }
        let expected_version = self.next_version(event.stream_id.as_str());
        if event.stream_version != expected_version {
            return Err(broken(Problem::StreamVersion {
                stream: event.stream_id.to_string(),
                expected: expected_version,
                stored: event.stream_version,
            }));
        }
        if let Some(previous) = self.last_time {
            if event.recorded_at < previous {
                return Err(broken(Problem::TimeWentBack {
                    previous,
                    stored: event.recorded_at,
                }));
            }
        }
        match self.versions.get_mut(event.stream_id.as_str()) {
            Some(version) => *version = event.stream_version,
            None => {
                self.versions
                    .insert(event.stream_id.to_string(), event.stream_version);
            }
        }
        self.last_position = event.position;
        self.last_hash = event.hash;
        self.last_time = Some(event.recorded_at);
        Ok(())
    }
}

/// A head printed earlier (by `portal-ledger head`), to catch a truncated
/// tail: `verify` fails if the log no longer reaches it or has another hash
/// there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedHead {
    pub position: u64,
    pub hash: Hash,
}

impl std::str::FromStr for ExpectedHead {
    type Err = String;

    /// Parses `POSITION:HASH`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (position, hash) = s
            .split_once(':')
            .ok_or_else(|| "expected POSITION:HASH".to_owned())?;
        Ok(Self {
            position: position.parse().map_err(|e| format!("bad position: {e}"))?,
            hash: Hash::from_hex(hash).map_err(|e| e.to_string())?,
        })
    }
}
