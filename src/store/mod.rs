//! The event store contract and its two backends.
//!
//! [`EventStore`] is the only thing the rest of the system knows about
//! storage. It is deliberately free of SQL, with positions and versions as
//! `u64` and every call async, so that a KurrentDB backend can implement it
//! later. Two backends implement it today: [`sqlite::SqliteStore`] (the
//! embedded default, a file under `./data/`) and [`postgres::PgStore`]; one
//! conformance suite (`tests/log/conformance.rs`) runs unchanged against both.
//!
//! Both backends share the rules that make the log what it is:
//! * appends are validated by [`append::validate`] before anything is sent;
//! * one writer per process batches concurrent appends into one transaction
//!   (group commit) and decides each batch with the pure [`batch::plan`];
//! * positions are assigned under a lock that serializes writers (PostgreSQL
//!   advisory lock, SQLite's write lock), so they are contiguous and in commit
//!   order by construction.

pub mod append;
pub mod batch;
mod commit_metrics;
pub mod import;
pub mod pages;
pub mod postgres;
pub mod sqlite;
pub mod subscription;
mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;
use uuid::Uuid;

use crate::event::{EventType, Hash, RecordedEvent, StreamId};

pub use append::{AppendLimitError, AppendOutcome, AppendedStream, ExpectedVersion, StreamAppend};
pub use subscription::Subscription;

/// The last event of the log, or position 0 and the zero hash when empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Head {
    pub position: u64,
    pub hash: Hash,
    #[serde(with = "crate::event::log_time_format::option")]
    pub recorded_at: Option<DateTime<Utc>>,
}

impl Head {
    pub const EMPTY: Head = Head {
        position: 0,
        hash: Hash::ZERO,
        recorded_at: None,
    };
}

impl Default for Head {
    fn default() -> Self {
        Head::EMPTY
    }
}

/// Which events `read_all` and `subscribe` return. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadFilter {
    pub categories: Vec<String>,
    pub event_types: Vec<EventType>,
}

impl ReadFilter {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn is_all(&self) -> bool {
        self.categories.is_empty() && self.event_types.is_empty()
    }

    pub fn matches(&self, event: &RecordedEvent) -> bool {
        (self.categories.is_empty()
            || self
                .categories
                .iter()
                .any(|c| c == event.stream_id.category()))
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
    }
}

/// Everything that can go wrong talking to a store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// An expectation failed; nothing of the append was stored.
    #[error("wrong expected version for stream {stream}: expected {expected}, actual version is {actual}")]
    WrongExpectedVersion {
        stream: StreamId,
        expected: ExpectedVersion,
        actual: u64,
    },
    /// The event id is stored already, with other content (or only part of
    /// the append was stored under those ids).
    #[error("event {event_id} is already stored with different content")]
    IdempotencyConflict { event_id: Uuid },
    /// The append breaks a limit; nothing was sent to the store.
    #[error(transparent)]
    Limit(#[from] AppendLimitError),
    /// The store's content is not what the log guarantees (a row that does
    /// not parse, for instance): a sign of tampering or corruption.
    #[error("corrupt event at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    /// The writer or the database is gone; the outcome of an append in
    /// flight is unknown (retry it with the same event ids).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("postgres: {0}")]
    Postgres(String),
    #[error("postgres pool: {0}")]
    Pool(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migration(#[from] refinery::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<tokio_postgres::Error> for StoreError {
    /// Keeps the server's message and detail: `tokio_postgres::Error`
    /// displays only "db error" on its own.
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => StoreError::Postgres(format!(
                "{} ({}){}",
                db.message(),
                db.code().code(),
                db.detail().map(|d| format!(": {d}")).unwrap_or_default()
            )),
            None => StoreError::Postgres(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Pool(e.to_string())
    }
}

/// The store contract. See the module documentation.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends events to one or more streams atomically. Every stream's
    /// expectation must hold or nothing is appended. Retrying with the same
    /// event ids and content returns the original outcome.
    async fn append(&self, streams: Vec<StreamAppend>) -> Result<AppendOutcome, StoreError>;

    /// Events of one stream with `stream_version >= from_version`, in order.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Events with `position >= from_position` that match `filter`, in order.
    async fn read_all(
        &self,
        from_position: u64,
        limit: usize,
        filter: &ReadFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The last position and hash.
    async fn head(&self) -> Result<Head, StoreError>;

    /// Every event with `position >= from_position` matching `filter`, once,
    /// in position order: first those already stored, then new ones as they
    /// are committed.
    async fn subscribe(
        &self,
        from_position: u64,
        filter: ReadFilter,
    ) -> Result<Subscription, StoreError>;
}

/// A store chosen at run time (the CLI and the server hold one of these).
pub type SharedStore = Arc<dyn EventStore>;
