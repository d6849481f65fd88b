//! The hand-off to a store's single writer task.
//!
//! Both backends serialize appends through one task that owns the write
//! connection (that is what makes a position gap-free and lets the writer
//! batch concurrent appends into one transaction). A caller sends its
//! streams with a reply channel and waits; this module is that exchange,
//! once for both backends.

use tokio::sync::{mpsc, oneshot};

use crate::store::{AppendOutcome, StoreError, StreamAppend};

/// One append waiting for the writer, with where to send its outcome.
pub(crate) struct WriteRequest {
    pub(crate) streams: Vec<StreamAppend>,
    pub(crate) reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// Sends `streams` to the writer behind `writer` and waits for its answer.
pub(crate) async fn submit(
    writer: &mpsc::Sender<WriteRequest>,
    streams: Vec<StreamAppend>,
) -> Result<AppendOutcome, StoreError> {
    let (reply, outcome) = oneshot::channel();
    writer
        .send(WriteRequest { streams, reply })
        .await
        .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
    outcome
        .await
        .map_err(|_| StoreError::Unavailable("the writer dropped the append".into()))?
}
