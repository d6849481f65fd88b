//! Catch-up then live delivery, shared by both backends.
//!
//! A subscription is a task that reads pages with `read_all` from the next
//! position it owes, hands them over a bounded channel (so a slow consumer
//! slows the reader instead of filling memory), and, once a read comes back
//! empty, sleeps until its backend signals that the head moved: PostgreSQL
//! wakes it through LISTEN/NOTIFY, the embedded store from its own writer.
//!
//! Exactly-once, in-order delivery needs no gap detection: positions are
//! contiguous and become visible in commit order (see `store/mod.rs`), so
//! "everything from `next` on that is visible now" never skips a position
//! that could appear later.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::event::RecordedEvent;
use crate::store::{EventStore, ReadFilter, StoreError};

/// Events read per page while catching up.
const PAGE: usize = 1000;
/// Channel capacity between the reader task and the consumer.
const BUFFER: usize = 1024;

/// A running subscription; dropping it stops the reader task.
pub struct Subscription {
    events: mpsc::Receiver<Result<RecordedEvent, StoreError>>,
    task: JoinHandle<()>,
}

impl Subscription {
    /// The next event, or an error after which the subscription has ended.
    /// `None` when the store shut down.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        self.events.recv().await
    }

    /// The next event if one is ready now, without waiting.
    pub fn try_next(&mut self) -> Option<Result<RecordedEvent, StoreError>> {
        self.events.try_recv().ok()
    }

    /// Starts the reader task. `wake` changes whenever the head may have
    /// moved; `recheck` bounds how long a missed wake-up can delay delivery
    /// (writes by another process on the embedded store, a reconnecting
    /// listener on PostgreSQL).
    pub(crate) fn spawn<S>(
        store: S,
        mut wake: watch::Receiver<u64>,
        from_position: u64,
        filter: ReadFilter,
        recheck: Duration,
    ) -> Self
    where
        S: EventStore + Clone,
    {
        let (tx, events) = mpsc::channel(BUFFER);
        let task = tokio::spawn(async move {
            let mut next = from_position.max(1);
            loop {
                wake.borrow_and_update();
                let page = match store.read_all(next, PAGE, &filter).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                if page.is_empty() {
                    tokio::select! {
                        changed = wake.changed() => {
                            if changed.is_err() {
                                return;
                            }
                        }
                        _ = tokio::time::sleep(recheck) => {}
                        _ = tx.closed() => return,
                    }
                    continue;
                }
                for event in page {
                    next = event.position + 1;
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Self { events, task }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}
