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
//! A table filled before it has its keys ([`BulkTable`]) is told no insert
//! whose key the fill inserted a moment ago ([`RecentKeys`]): the events
//! of one command come one after another and share its activity row, and
//! the keyless copy would otherwise hold that row once per event until its
//! keys are built.
//!
//! A projector whose pages change nothing does not commit each page: its
//! checkpoint moves at most every [`IDLE_COMMIT_EVENTS`] events and at the
//! end (a resumed rebuild re-reads at most that much for it).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{storable_changes, BATCH};
use crate::event::RecordedEvent;
use crate::privacy::SharedPersonalData;
use crate::projection::lease::Lease;
use crate::projection::{
    BulkTable, CopyKind, ProjectionError, ProjectionStore, Projector, RowChange, SqlValue,
};
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
    let mut recent = RecentKeys::new(projector.bulk_tables());
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
        let mut changes = storable_changes(
            projector,
            batch
                .iter()
                .flat_map(|p| p.iter())
                .filter(|e| e.position > from),
        )?;
        recent.keep_first(&mut changes);
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

/// The keys a projector's last two batches inserted into its bulk tables.
///
/// Two batches, not the whole fill: a command's events are consecutive, so
/// its repeats fall in the same batch or the next; a repeat further away
/// (an imported history can hold one) is left to the keys, whose build
/// drops it. Memory stays two batches' keys, whatever the log's size.
struct RecentKeys {
    tables: &'static [BulkTable],
    current: HashSet<(&'static str, String)>,
    previous: HashSet<(&'static str, String)>,
}

impl RecentKeys {
    fn new(tables: &'static [BulkTable]) -> Self {
        Self {
            tables,
            current: HashSet::new(),
            previous: HashSet::new(),
        }
    }

    /// Drops from a batch's changes every insert into a bulk table whose
    /// key this or the previous batch inserted (insert-if-absent would
    /// keep the first), and remembers the batch's keys.
    fn keep_first(&mut self, changes: &mut Vec<RowChange>) {
        if self.tables.is_empty() {
            return;
        }
        self.previous = std::mem::take(&mut self.current);
        let (tables, current, previous) = (self.tables, &mut self.current, &self.previous);
        changes.retain(|change| {
            let RowChange::Insert { table, columns, .. } = change else {
                return true;
            };
            let Some(bulk) = tables.iter().find(|b| b.table == *table) else {
                return true;
            };
            let Some((_, SqlValue::Text(Some(key)))) = columns.iter().find(|(n, _)| *n == bulk.key)
            else {
                return true;
            };
            let key = (bulk.table, key.clone());
            !previous.contains(&key) && current.insert(key)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::OnConflict;

    fn insert(table: &'static str, key: &str) -> RowChange {
        RowChange::Insert {
            table,
            columns: vec![("id", SqlValue::text(key)), ("n", SqlValue::Int(Some(1)))],
            on_conflict: OnConflict::Ignore,
        }
    }

    #[test]
    fn repeats_within_two_batches_are_dropped_and_other_tables_kept() {
        const BULK: &[BulkTable] = &[BulkTable {
            table: "bulk",
            key: "id",
            first_by: "n",
        }];
        let mut recent = RecentKeys::new(BULK);
        let mut first = vec![
            insert("bulk", "a"),
            insert("bulk", "a"),
            insert("other", "a"),
        ];
        recent.keep_first(&mut first);
        assert_eq!(first, vec![insert("bulk", "a"), insert("other", "a")]);
        let mut second = vec![
            insert("bulk", "a"),
            insert("bulk", "b"),
            insert("other", "a"),
        ];
        recent.keep_first(&mut second);
        assert_eq!(second, vec![insert("bulk", "b"), insert("other", "a")]);
        // "a" was two batches ago: left to the keys.
        let mut third = vec![insert("bulk", "b"), insert("bulk", "c")];
        recent.keep_first(&mut third);
        assert_eq!(third, vec![insert("bulk", "c")]);
        let mut fourth = vec![insert("bulk", "a")];
        recent.keep_first(&mut fourth);
        assert_eq!(fourth, vec![insert("bulk", "a")]);
    }
}
