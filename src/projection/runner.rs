//! Keeping projections up to date, rebuilding them, and letting a client
//! read its own writes.
//!
//! Each projector advances independently from its own checkpoint: first it
//! catches up page by page, then it follows a live subscription, committing
//! each batch of changes together with its new checkpoint. A restart resumes
//! from the checkpoint, so each event's changes are applied exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::privacy::SharedPersonalData;
use crate::projection::{all_projectors, ProjectionError, ProjectionStore, Projector, RowChange};
use crate::store::{ReadFilter, SharedStore};

/// Events per page when catching up, and most events per live batch.
const BATCH: usize = 1000;
/// Pause before a failed live projector starts again from its checkpoint.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// The projections of one store.
pub struct Projections {
    projectors: Vec<Arc<dyn Projector>>,
    events: SharedStore,
    personal: SharedPersonalData,
    target: Arc<dyn ProjectionStore>,
    /// Position every projector has reached (the minimum of them).
    reached: watch::Sender<u64>,
    positions: Mutex<HashMap<&'static str, u64>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Projections {
    /// Projections of `events` into `target`, opening personal data with
    /// `personal` (the process's one, shared with the ledger).
    pub fn new(
        events: SharedStore,
        personal: SharedPersonalData,
        target: Arc<dyn ProjectionStore>,
    ) -> Arc<Self> {
        Arc::new(Self {
            projectors: all_projectors(),
            events,
            personal,
            target,
            reached: watch::channel(0).0,
            positions: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
        })
    }

    pub fn target(&self) -> &Arc<dyn ProjectionStore> {
        &self.target
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.projectors.iter().map(|p| p.name()).collect()
    }

    fn record(&self, projector: &'static str, position: u64) {
        if let Ok(mut positions) = self.positions.lock() {
            positions.insert(projector, position);
            if positions.len() == self.projectors.len() {
                let min = positions.values().copied().min().unwrap_or(0);
                self.reached.send_if_modified(|r| {
                    let moved = *r != min;
                    *r = min;
                    moved
                });
            }
        }
    }

    async fn apply_batch(
        &self,
        projector: &dyn Projector,
        events: &[crate::event::RecordedEvent],
    ) -> Result<u64, ProjectionError> {
        let mut events = events.to_vec();
        self.personal.open(&mut events).await?;
        let mut changes: Vec<RowChange> = Vec::new();
        for event in &events {
            changes.extend(projector.apply(event)?);
        }
        let last = events.last().map_or(0, |e| e.position);
        self.target.commit(projector.name(), &changes, last).await?;
        Ok(last)
    }

    /// Applies everything after the projector's checkpoint up to the current
    /// head; returns the position reached.
    pub async fn catch_up(
        &self,
        projector: &dyn Projector,
        on_progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, ProjectionError> {
        let mut position = self.target.checkpoint(projector.name()).await?;
        loop {
            let page = self
                .events
                .read_all(position + 1, BATCH, &ReadFilter::all())
                .await?;
            if page.is_empty() {
                return Ok(position);
            }
            position = self.apply_batch(projector, &page).await?;
            on_progress(position);
        }
    }

    /// Brings every projection up to the current head (one-shot commands
    /// that read them, without live tasks).
    pub async fn catch_up_all(&self) -> Result<(), ProjectionError> {
        for projector in &self.projectors {
            let position = self.catch_up(projector.as_ref(), &mut |_| {}).await?;
            self.record(projector.name(), position);
        }
        Ok(())
    }

    /// Empties the named projections (all when `names` is empty) and
    /// rebuilds them from the log.
    pub async fn rebuild(
        &self,
        names: &[String],
        on_progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> Result<(), ProjectionError> {
        for name in names {
            if !self.projectors.iter().any(|p| p.name() == name) {
                return Err(ProjectionError::Unknown(name.clone()));
            }
        }
        for projector in &self.projectors {
            if !names.is_empty() && !names.iter().any(|n| n == projector.name()) {
                continue;
            }
            self.target
                .reset(projector.name(), projector.tables())
                .await?;
            let name = projector.name();
            let position = self
                .catch_up(projector.as_ref(), &mut |p| on_progress(name, p))
                .await?;
            self.record(name, position);
        }
        Ok(())
    }

    /// Starts one live task per projector. The tasks stop when `stop` is
    /// called or the `Projections` is dropped.
    pub fn start(self: &Arc<Self>) {
        let mut tasks = match self.tasks.lock() {
            Ok(tasks) => tasks,
            Err(_) => return,
        };
        for projector in &self.projectors {
            let this = Arc::downgrade(self);
            let projector = Arc::clone(projector);
            tasks.push(tokio::spawn(async move {
                loop {
                    let Some(projections) = this.upgrade() else { return };
                    if let Err(e) = projections.follow(projector.as_ref()).await {
                        tracing::error!(projector = projector.name(), error = %e, "projector failed; restarting from its checkpoint");
                    }
                    drop(projections);
                    tokio::time::sleep(RESTART_DELAY).await;
                }
            }));
        }
    }

    /// Stops the live tasks.
    pub fn stop(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }

    async fn follow(&self, projector: &dyn Projector) -> Result<(), ProjectionError> {
        let mut position = self.catch_up(projector, &mut |_| {}).await?;
        self.record(projector.name(), position);
        let mut subscription = self
            .events
            .subscribe(position + 1, ReadFilter::all())
            .await?;
        loop {
            let Some(first) = subscription.next().await else {
                return Ok(());
            };
            let mut batch = vec![first?];
            while batch.len() < BATCH {
                match subscription.try_next() {
                    Some(event) => batch.push(event?),
                    None => break,
                }
            }
            position = self.apply_batch(projector, &batch).await?;
            self.record(projector.name(), position);
        }
    }

    /// Waits until every projection has applied `position` (read your own
    /// writes); false if `timeout` passed first.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let mut reached = self.reached.subscribe();
        tokio::time::timeout(timeout, reached.wait_for(|r| *r >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl Drop for Projections {
    fn drop(&mut self) {
        self.stop();
    }
}
