//! Reading the whole log fast: one page ahead.
//!
//! `verify`, `export` and the benchmarks read the log from start to end. A
//! task reads the next page while the caller works on the current one, so
//! the database and the caller's CPU work overlap instead of taking turns.

use tokio::sync::mpsc;

use crate::event::RecordedEvent;
use crate::store::{ReadFilter, SharedStore, StoreError};

/// Events per page for whole-log reads.
pub const PAGE_SIZE: usize = 5000;

/// Pages of `read_all` from `from_position` to the current end, in order;
/// the channel closes after the last (short or empty) page or an error.
pub fn read_pages(
    store: SharedStore,
    from_position: u64,
    filter: ReadFilter,
) -> mpsc::Receiver<Result<Vec<RecordedEvent>, StoreError>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let mut next = from_position.max(1);
        loop {
            match store.read_all(next, PAGE_SIZE, &filter).await {
                Ok(page) => {
                    let Some(last) = page.last() else { return };
                    next = last.position + 1;
                    let done = page.len() < PAGE_SIZE;
                    if tx.send(Ok(page)).await.is_err() || done {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    rx
}
