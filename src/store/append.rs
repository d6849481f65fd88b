//! What an append asks for, what it returns, and the limits checked before
//! anything reaches a backend.
//!
//! Limits are checked here, once, for both backends, so that a refused
//! append never costs a round trip and never appends anything.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use thiserror::Error;
use uuid::Uuid;

use crate::event::{NewEvent, StreamId};

/// Largest payload + metadata of one event, in bytes of canonical JSON.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// Most events in one append.
pub const MAX_EVENTS_PER_APPEND: usize = 10_000;

/// What the caller expects a stream's version to be before the append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "version")]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must be exactly at this version (0 means empty).
    Exact(u64),
}

impl ExpectedVersion {
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => actual == v,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "{v}"),
        }
    }
}

/// Events for one stream, with the caller's expectation of that stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAppend {
    pub stream_id: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

impl StreamAppend {
    pub fn new(stream_id: StreamId, expected: ExpectedVersion, events: Vec<NewEvent>) -> Self {
        Self {
            stream_id,
            expected,
            events,
        }
    }
}

/// The new version of one stream after an append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppendedStream {
    pub stream_id: String,
    pub version: u64,
}

/// What a successful append returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppendOutcome {
    /// The position of every appended event, in the order they were given.
    pub positions: Vec<u64>,
    /// Each stream's version after the append, in the order given.
    pub streams: Vec<AppendedStream>,
}

impl AppendOutcome {
    /// The highest position of the append (a read can wait for it).
    pub fn last_position(&self) -> u64 {
        self.positions.iter().copied().max().unwrap_or(0)
    }
}

/// An append that breaks a limit. Nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AppendLimitError {
    #[error("an append must contain at least one event")]
    Empty,
    #[error("an append may contain at most {MAX_EVENTS_PER_APPEND} events, got {count}")]
    TooManyEvents { count: usize },
    #[error("stream {stream} appears more than once in one append")]
    DuplicateStream { stream: StreamId },
    #[error("event {event_id} appears more than once in one append")]
    DuplicateEventId { event_id: Uuid },
    #[error(
        "event {event_id}: payload and metadata are {bytes} bytes, more than {MAX_EVENT_BYTES}"
    )]
    EventTooLarge { event_id: Uuid, bytes: usize },
    #[error("event {event_id}: schema version must be at least 1")]
    SchemaVersionZero { event_id: Uuid },
}

/// Checks an append against the limits. Stream ids, event types and JSON
/// objects are valid by construction (see [`crate::event`]).
pub fn validate(streams: &[StreamAppend]) -> Result<(), AppendLimitError> {
    let count: usize = streams.iter().map(|s| s.events.len()).sum();
    if count == 0 || streams.iter().any(|s| s.events.is_empty()) {
        return Err(AppendLimitError::Empty);
    }
    if count > MAX_EVENTS_PER_APPEND {
        return Err(AppendLimitError::TooManyEvents { count });
    }
    let mut seen_streams = HashSet::with_capacity(streams.len());
    let mut seen_ids = HashSet::with_capacity(count);
    for stream in streams {
        if !seen_streams.insert(&stream.stream_id) {
            return Err(AppendLimitError::DuplicateStream {
                stream: stream.stream_id.clone(),
            });
        }
        for event in &stream.events {
            if !seen_ids.insert(event.event_id) {
                return Err(AppendLimitError::DuplicateEventId {
                    event_id: event.event_id,
                });
            }
            let bytes = event.payload.len() + event.metadata.len();
            if bytes > MAX_EVENT_BYTES {
                return Err(AppendLimitError::EventTooLarge {
                    event_id: event.event_id,
                    bytes,
                });
            }
            if event.schema_version == 0 {
                return Err(AppendLimitError::SchemaVersionZero {
                    event_id: event.event_id,
                });
            }
        }
    }
    Ok(())
}
