//! Filling the copies of several projectors from one read of the log.
//!
//! Why this shape: a rebuild is bound by the slowest projector (the
//! activity log writes a row per event) and by the CPU the machine has. One
//! reader task reads each page of the log and opens its personal data once;
//! every projector has its own task that turns pages into row changes and
//! commits them into its copy. So decoding and committing run on every
//! core, a projector with little to write never waits for a busy one, and
//! a projector that falls behind takes the pages queued for it as one
//! bigger batch (fewer, larger commits). The queue per projector is short,
//! which bounds memory to a few pages and keeps the reader from running far
//! ahead of the slowest writer.
//!
//! A projector whose pages change nothing does not commit each page: its
//! checkpoint moves at most every [`IDLE_COMMIT_EVENTS`] events and at the
//! end (a resumed rebuild re-reads at most that much for it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{storable_changes, BATCH};
use crate::event::RecordedEvent;
use crate::privacy::SharedPersonalData;
use crate::projection::lease::Lease;
use crate::projection::{CopyKind, ProjectionError, ProjectionStore, Projector};
use crate::store::{ReadFilter, SharedStore};

/// Pages waiting for one projector's task.
const QUEUED_PAGES: usize = 4;
/// Most pages one commit takes when a projector is behind.
const PAGES_PER_COMMIT: usize = 4;
/// Events a projector with nothing to write may pass before it commits its
/// checkpoint anyway.
const IDLE_COMMIT_EVENTS: u64 = 100_000;

type Page = Arc<Vec<RecordedEvent>>;

/// One projector's part of a fill: its copy's lease and checkpoint.
pub(super) struct CopyToFill {
    pub projector: Arc<dyn Projector>,
    pub lease: Lease,
    pub start: u64,
}

/// Fills every copy from its checkpoint to the head; returns the position
/// each reached, in the order given.
pub(super) async fn fill_copies(
    events: &SharedStore,
    personal: &SharedPersonalData,
    target: &Arc<dyn ProjectionStore>,
    copies: Vec<CopyToFill>,
    on_progress: &mut (dyn FnMut(&str, u64) + Send),
) -> Result<Vec<u64>, ProjectionError> {
    let Some(mut read_from) = copies.iter().map(|c| c.start).min() else {
        return Ok(Vec::new());
    };
    let mut senders = Vec::with_capacity(copies.len());
    let mut workers = Vec::with_capacity(copies.len());
    for copy in copies {
        let (sender, pages) = mpsc::channel::<Page>(QUEUED_PAGES);
        let reached = Arc::new(AtomicU64::new(copy.start));
        let name = copy.projector.name();
        let task = tokio::spawn(fill_one(target.clone(), copy, pages, reached.clone()));
        senders.push(sender);
        workers.push((name, reached, task));
    }
    let read = async {
        loop {
            let mut page = events
                .read_all(read_from + 1, BATCH, &ReadFilter::all())
                .await?;
            let Some(last) = page.last().map(|e| e.position) else {
                return Ok(());
            };
            personal.open(&mut page).await?;
            let page = Arc::new(page);
            for sender in &senders {
                if sender.send(page.clone()).await.is_err() {
                    // That projector's task stopped: its error is reported
                    // below, once every task has finished.
                    return Ok(());
                }
            }
            for (name, reached, _) in &workers {
                on_progress(name, reached.load(Ordering::Relaxed));
            }
            read_from = last;
        }
    };
    let read: Result<(), ProjectionError> = read.await;
    drop(senders);
    let mut positions = Vec::with_capacity(workers.len());
    let mut failure = read.err();
    for (name, _, task) in workers {
        match task.await {
            Ok(Ok(position)) => {
                on_progress(name, position);
                positions.push(position);
            }
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(ProjectionError::Backend(format!(
                    "the {name} projector's task stopped: {e}"
                )));
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(positions),
    }
}

/// One projector's task: applies the pages it is sent to its copy.
async fn fill_one(
    target: Arc<dyn ProjectionStore>,
    copy: CopyToFill,
    mut pages: mpsc::Receiver<Page>,
    reached: Arc<AtomicU64>,
) -> Result<u64, ProjectionError> {
    let projector = copy.projector.as_ref();
    let mut committed = copy.start;
    let mut seen = copy.start;
    // Where the task's time goes, logged at the end: deciding row changes
    // (CPU) against committing them (the database).
    let (mut deciding, mut committing) = (Duration::ZERO, Duration::ZERO);
    while let Some(page) = pages.recv().await {
        let mut batch = vec![page];
        while batch.len() < PAGES_PER_COMMIT {
            match pages.try_recv() {
                Ok(page) => batch.push(page),
                Err(_) => break,
            }
        }
        let from = seen;
        let Some(last) = batch
            .iter()
            .filter_map(|p| p.last())
            .map(|e| e.position)
            .max()
        else {
            continue;
        };
        if last <= from {
            continue;
        }
        let decided = Instant::now();
        let changes = storable_changes(
            projector,
            batch
                .iter()
                .flat_map(|p| p.iter())
                .filter(|e| e.position > from),
        )?;
        deciding += decided.elapsed();
        seen = last;
        if !changes.is_empty() || seen - committed >= IDLE_COMMIT_EVENTS {
            let commit = Instant::now();
            target
                .commit_into(&copy.lease, CopyKind::Next, changes, committed, seen)
                .await?;
            committing += commit.elapsed();
            committed = seen;
            reached.store(committed, Ordering::Relaxed);
            metrics::gauge!("rebuild_position", "projector" => projector.name())
                .set(committed as f64);
        }
    }
    if seen > committed {
        target
            .commit_into(&copy.lease, CopyKind::Next, Vec::new(), committed, seen)
            .await?;
        committed = seen;
        reached.store(committed, Ordering::Relaxed);
        metrics::gauge!("rebuild_position", "projector" => projector.name()).set(committed as f64);
    }
    tracing::info!(
        projector = projector.name(),
        position = committed,
        deciding_seconds = deciding.as_secs_f64(),
        committing_seconds = committing.as_secs_f64(),
        "rebuild: copy filled"
    );
    Ok(committed)
}
