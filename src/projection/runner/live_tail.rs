//! The one live reader of the log in a process: every projector the
//! process holds follows the log through it.
//!
//! Why: a projector that subscribed to the store on its own read every new
//! event (and asked once more to find nothing), so each append cost a
//! process thirteen reads and thirteen openings of personal data before any
//! projector could commit. The tail reads each new event once, opens its
//! personal data once and hands the batch to every follower through a
//! broadcast channel. A follower subscribes before it catches up from its
//! checkpoint, reads any gap between its checkpoint and the tail's first
//! batch from the log itself, and falls back to reading the log whenever it
//! falls so far behind that the channel dropped batches for it
//! ([`broadcast::error::RecvError::Lagged`]): the tail never waits for a
//! slow projector, and no projector misses an event.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::BATCH;
use crate::event::RecordedEvent;
use crate::privacy::SharedPersonalData;
use crate::projection::ProjectionError;
use crate::store::{ReadFilter, SharedStore};

/// Batches the channel keeps for followers that are behind.
const KEPT_BATCHES: usize = 256;

/// A batch of consecutive events, personal data opened.
pub(super) type Batch = Arc<Vec<RecordedEvent>>;

/// The process's tail of the log, started by the first follower.
#[derive(Default)]
pub(super) struct LiveTail {
    running: Mutex<Option<(broadcast::Sender<Batch>, JoinHandle<()>)>>,
}

impl LiveTail {
    /// A receiver of every batch from now on (the tail starts if it is not
    /// running).
    pub async fn follow(
        &self,
        events: &SharedStore,
        personal: &SharedPersonalData,
    ) -> Result<broadcast::Receiver<Batch>, ProjectionError> {
        if let Some(receiver) = self.receiver() {
            return Ok(receiver);
        }
        let head = events.head().await?.position;
        let mut running = self
            .running
            .lock()
            .map_err(|_| ProjectionError::Backend("the live tail is poisoned".to_owned()))?;
        if let Some((sender, task)) = running.as_ref() {
            if !task.is_finished() {
                return Ok(sender.subscribe());
            }
        }
        let (sender, receiver) = broadcast::channel(KEPT_BATCHES);
        let task = tokio::spawn(read_tail(
            events.clone(),
            personal.clone(),
            sender.clone(),
            head,
        ));
        *running = Some((sender, task));
        Ok(receiver)
    }

    fn receiver(&self) -> Option<broadcast::Receiver<Batch>> {
        let running = self.running.lock().ok()?;
        let (sender, task) = running.as_ref()?;
        (!task.is_finished()).then(|| sender.subscribe())
    }

    /// Stops the reader (followers see the channel close).
    pub fn stop(&self) {
        if let Ok(mut running) = self.running.lock() {
            if let Some((_, task)) = running.take() {
                task.abort();
            }
        }
    }
}

/// Reads the log after `head` as it grows and broadcasts it in batches.
/// On an error the task ends: followers see the channel close and
/// subscribe again, which starts a new tail.
async fn read_tail(
    events: SharedStore,
    personal: SharedPersonalData,
    sender: broadcast::Sender<Batch>,
    head: u64,
) {
    let mut subscription = match events.subscribe(head + 1, ReadFilter::all()).await {
        Ok(subscription) => subscription,
        Err(e) => {
            tracing::warn!(error = %e, "the live tail cannot subscribe to the log");
            return;
        }
    };
    loop {
        let Some(first) = subscription.next().await else {
            return;
        };
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(event) = next {
            match event {
                Ok(event) => batch.push(event),
                Err(e) => {
                    tracing::warn!(error = %e, "the live tail lost the log");
                    return;
                }
            }
            next = if batch.len() < BATCH {
                subscription.try_next()
            } else {
                None
            };
        }
        if let Err(e) = personal.open(&mut batch).await {
            // The followers open what they are given again, and report the
            // event they cannot open; the tail hands it over as it is.
            tracing::debug!(error = %e, "the live tail cannot open a batch's personal data");
        }
        if sender.send(Arc::new(batch)).is_err() && sender.receiver_count() == 0 {
            // Nobody follows any more: stop until the next follower.
            return;
        }
    }
}
