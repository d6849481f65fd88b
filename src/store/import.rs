//! The bulk path a backend offers to `import`.
//!
//! Import checks every line itself (see [`crate::transfer::import`]) and only
//! needs a backend to hold the log's write lock for the whole import, tell it
//! where the log stands, and write checked rows fast inside one transaction
//! (COPY on PostgreSQL). Dropping a session without `commit` rolls back, so an
//! import is all-or-nothing.

use std::collections::HashMap;

use async_trait::async_trait;
use uuid::Uuid;

use crate::event::RecordedEvent;
use crate::store::{Head, StoreError};

#[async_trait]
pub trait BulkImport: Send + Sync {
    /// Takes the write lock and opens the import's transaction.
    async fn begin_import(&self) -> Result<Box<dyn ImportSession>, StoreError>;
}

#[async_trait]
pub trait ImportSession: Send {
    /// The head when the import began (the lock keeps it from moving).
    fn head(&self) -> Head;
    /// The version of every stream in the log.
    async fn stream_versions(&mut self) -> Result<HashMap<String, u64>, StoreError>;
    /// Which of these event ids are stored already.
    async fn existing_event_ids(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError>;
    /// Writes checked rows, in position order, continuing the log.
    async fn write(&mut self, rows: &[RecordedEvent]) -> Result<(), StoreError>;
    /// Makes the whole import durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}
