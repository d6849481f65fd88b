//! Committing projector batches on PostgreSQL: each batch fenced by its
//! lease and compare-and-set on its checkpoint, and the batches of live
//! projectors that are ready at the same moment committed together.
//!
//! Why together: one appended command wakes every projector of the
//! process at once, and each has a batch to commit (if only its checkpoint).
//! Thirteen transactions per command kept the projectors busy committing
//! and made the last of them wait for a connection; one transaction for all
//! that are ready costs one round of round trips. The first batch to arrive
//! leads: it takes every batch queued behind it into one transaction; the
//! batches that arrive while it commits form the next group (like the log's
//! group commit). Each batch keeps its own fence and compare-and-set; if
//! any of them fails — a lost lease, a moved checkpoint, an event a
//! projector cannot apply — the group is rolled back and every batch is
//! committed alone, so each gets its own answer and one projector's
//! failure never holds up another's commit.

use std::sync::Mutex;

use deadpool_postgres::Transaction;
use tokio::sync::oneshot;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::{row_runs, PgProjections};
use crate::projection::lease::Lease;
use crate::projection::stop_point::{self, StopPoint};
use crate::projection::{CopyKind, ProjectionError, RowChange};

/// The fence of a commit: the lease still carries the batch's token and has
/// not expired by the database's clock; locks the lease row until commit.
pub(super) const LEASE_IS_LIVE: &str = "SELECT 1 FROM projection_leases \
     WHERE projector = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp() \
     FOR SHARE";

/// The compare-and-set of a commit: moves the checkpoint only from where the
/// batch began.
const CHECKPOINT_MOVES: &str =
    "UPDATE projection_checkpoints SET position = $3 WHERE projector = $1 AND position = $2";

/// The settings of every projection commit: it need not wait for the WAL
/// flush, and the server ends it when its client goes quiet for 3 s (and
/// releases the lease rows); why, see `commit_together`.
const COMMIT_SETTINGS: &str = "SET LOCAL synchronous_commit = off; \
     SET LOCAL idle_in_transaction_session_timeout = '3s'";

/// Tells readers in every process which checkpoints moved.
const NOTIFY_CHECKPOINTS: &str =
    "SELECT pg_notify('projection_checkpoints', c) FROM unnest($1::text[]) AS c";

/// One projector's batch: its changes to one copy of its tables and the
/// checkpoint move they make.
pub(super) struct Batch {
    pub lease: Lease,
    pub copy: CopyKind,
    pub changes: Vec<RowChange>,
    pub from: u64,
    pub to: u64,
}

/// Where a batch's committer hears how its commit went.
type Answer = oneshot::Sender<Result<(), ProjectionError>>;

/// Batches waiting for the next group.
#[derive(Default)]
pub(super) struct CommitQueue {
    waiting: Mutex<Vec<(Batch, Answer)>>,
    leader: tokio::sync::Mutex<()>,
}

impl CommitQueue {
    /// Commits `batch` with whatever batches are waiting beside it.
    pub async fn commit(&self, store: &PgProjections, batch: Batch) -> Result<(), ProjectionError> {
        let (done, mut answer) = oneshot::channel();
        self.waiting
            .lock()
            .map_err(|_| ProjectionError::Backend("the commit queue is poisoned".to_owned()))?
            .push((batch, done));
        let _leading = self.leader.lock().await;
        // A leader before us may have taken our batch with its group.
        match answer.try_recv() {
            Ok(result) => return result,
            Err(oneshot::error::TryRecvError::Closed) => return Err(dropped()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let group = self
            .waiting
            .lock()
            .map(|mut waiting| std::mem::take(&mut *waiting))
            .map_err(|_| ProjectionError::Backend("the commit queue is poisoned".to_owned()))?;
        // The group commits in a task of its own: if this leader's caller
        // is cancelled (its lease lost, the process stopping), the batches
        // of the others it took still get their answers.
        let store = store.clone();
        let group_commit = tokio::spawn(async move {
            let (batches, answers): (Vec<Batch>, Vec<_>) = group.into_iter().unzip();
            let results = commit_group(&store, &batches).await;
            for (done, result) in answers.into_iter().zip(results) {
                let _ = done.send(result);
            }
        });
        // Held until the group is answered, so the next leader finds an
        // empty or fresh queue rather than racing this group.
        let _ = group_commit.await;
        answer.await.map_err(|_| dropped())?
    }
}

/// The inserted tables of a rebuild's batches whose copy has no keys yet
/// (a bulk fill; see [`crate::projection::BulkTable`]), by live name.
async fn keyless_copies(
    tx: &Transaction<'_>,
    batches: &[Batch],
) -> Result<Vec<String>, ProjectionError> {
    let mut inserted: Vec<(&str, String)> = Vec::new();
    for batch in batches.iter().filter(|b| b.copy != CopyKind::Live) {
        for change in &batch.changes {
            if let RowChange::Insert { table, .. } = change {
                if !inserted.iter().any(|(t, _)| t == table) {
                    inserted.push((table, format!("{table}{}", batch.copy.suffix())));
                }
            }
        }
    }
    if inserted.is_empty() {
        return Ok(Vec::new());
    }
    let copies: Vec<&str> = inserted.iter().map(|(_, c)| c.as_str()).collect();
    let rows = tx
        .query(
            "SELECT c FROM unnest($1::text[]) AS c WHERE NOT EXISTS \
             (SELECT 1 FROM pg_constraint k WHERE k.conrelid = to_regclass(c) AND k.contype IN ('p', 'u'))",
            &[&copies],
        )
        .await?;
    let keyless: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(inserted
        .into_iter()
        .filter(|(_, copy)| keyless.contains(copy))
        .map(|(table, _)| table.to_owned())
        .collect())
}

/// [`commit_together`] for batches with `COPY`s: the fences, every
/// statement and `COPY` in order, the checkpoint moves, one after another.
async fn commit_in_turn(
    tx: Transaction<'_>,
    batches: &[Batch],
    planned: &[Vec<row_runs::Statement<'_>>],
    holds: &tokio_postgres::Statement,
    moves: &tokio_postgres::Statement,
) -> Result<(), ProjectionError> {
    tx.batch_execute(COMMIT_SETTINGS).await?;
    for batch in batches {
        let fence = tx
            .query(
                holds,
                &[
                    &batch.lease.projector,
                    &batch.lease.holder,
                    &batch.lease.token,
                ],
            )
            .await?;
        if fence.is_empty() {
            return refused(tx, batch).await;
        }
    }
    for statement in planned.iter().flatten() {
        match statement {
            row_runs::Statement::Execute { sql, params } => {
                let prepared = tx.prepare_cached(sql).await?;
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_sql()).collect();
                tx.execute(&prepared, &params).await?;
            }
            row_runs::Statement::Copy {
                table,
                columns,
                rows,
            } => copy_rows(&tx, table, columns, rows).await?,
        }
    }
    for batch in batches {
        let (from, to) = (batch.from as i64, batch.to as i64);
        if tx
            .execute(moves, &[&batch.lease.projector, &from, &to])
            .await?
            != 1
        {
            return refused(tx, batch).await;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Writes inserts of one shape into `table` with binary `COPY`.
async fn copy_rows(
    tx: &Transaction<'_>,
    table: &str,
    columns: &[&str],
    rows: &[RowChange],
) -> Result<(), ProjectionError> {
    let list = columns.join(", ");
    // The columns' types, as binary COPY must name them.
    let shape = tx
        .prepare_cached(&format!("SELECT {list} FROM {table} LIMIT 0"))
        .await?;
    let types: Vec<Type> = shape.columns().iter().map(|c| c.type_().clone()).collect();
    let sink = tx
        .copy_in(&format!("COPY {table} ({list}) FROM STDIN (FORMAT binary)"))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures_util::pin_mut!(writer);
    let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(columns.len());
    for row in rows {
        let RowChange::Insert { columns, .. } = row else {
            continue;
        };
        values.clear();
        values.extend(columns.iter().map(|(_, v)| super::bind(v)));
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Rolls back a batch group one of whose fences or moves did not hold.
async fn refused(tx: Transaction<'_>, batch: &Batch) -> Result<(), ProjectionError> {
    tx.rollback().await?;
    Err(ProjectionError::Fenced {
        projector: batch.lease.projector.clone(),
        expected: batch.from,
    })
}

/// A batch whose answer never came: its commit may or may not have
/// happened, so the caller re-reads its checkpoint (the compare-and-set
/// makes applying again from there safe).
fn dropped() -> ProjectionError {
    ProjectionError::Backend("a batch's group commit ended without an answer".to_owned())
}

/// Commits the batches in one transaction, or — if that fails — each in
/// its own; one answer per batch.
async fn commit_group(
    store: &PgProjections,
    batches: &[Batch],
) -> Vec<Result<(), ProjectionError>> {
    if batches.len() > 1 {
        match commit_together(store, batches).await {
            Ok(()) => return batches.iter().map(|_| Ok(())).collect(),
            Err(e) => {
                tracing::debug!(error = %e, "a group of projector batches is committed one by one")
            }
        }
    }
    let mut results = Vec::with_capacity(batches.len());
    for batch in batches {
        results.push(commit_together(store, std::slice::from_ref(batch)).await);
    }
    results
}

/// One transaction applying every batch, each fenced and moving its own
/// checkpoint; nothing commits unless every fence and every move holds.
pub(super) async fn commit_together(
    store: &PgProjections,
    batches: &[Batch],
) -> Result<(), ProjectionError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let holds = tx.prepare_cached(LEASE_IS_LIVE).await?;
    let moves = tx.prepare_cached(CHECKPOINT_MOVES).await?;
    let keyless = keyless_copies(&tx, batches).await?;
    let planned: Vec<Vec<row_runs::Statement>> = batches
        .iter()
        .map(|b| row_runs::statements(&b.changes, b.copy, &keyless))
        .collect();
    if planned
        .iter()
        .flatten()
        .any(|p| matches!(p, row_runs::Statement::Copy { .. }))
    {
        // A bulk fill's batch: its inserts are COPYed, which does not
        // pipeline with other statements; so each statement in its turn.
        return commit_in_turn(tx, batches, &planned, &holds, &moves).await;
    }
    let mut statements = Vec::new();
    for planned in planned.iter().flatten() {
        if let row_runs::Statement::Execute { sql, params } = planned {
            // A handful of distinct statements, prepared once per
            // connection.
            let statement = tx.prepare_cached(sql).await?;
            let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_sql()).collect();
            statements.push((statement, params));
        }
    }
    let positions: Vec<(i64, i64)> = batches
        .iter()
        .map(|b| (b.from as i64, b.to as i64))
        .collect();
    let fence_params: Vec<[&(dyn ToSql + Sync); 3]> = batches
        .iter()
        .map(|b| -> [&(dyn ToSql + Sync); 3] {
            [&b.lease.projector, &b.lease.holder, &b.lease.token]
        })
        .collect();
    let move_params: Vec<[&(dyn ToSql + Sync); 3]> = batches
        .iter()
        .zip(&positions)
        .map(|(b, (from, to))| -> [&(dyn ToSql + Sync); 3] { [&b.lease.projector, from, to] })
        .collect();
    // Pipelined: every statement is sent without waiting for the previous
    // one's answer (tokio-postgres writes them in the order they are first
    // polled, and the server runs them in that order), so a group costs
    // one round trip instead of one per row. The fences come first: each
    // lease row is locked (FOR SHARE) until the commit, so a process taking
    // a lease over waits for this transaction and then finds the
    // checkpoint it moved.
    //
    // A read model is rebuilt from the log, and its rows and checkpoint
    // commit together: a crash that loses the last few commits only rolls
    // the projection back to an earlier consistent checkpoint, which it
    // then re-applies. So its commits need not wait for the WAL flush (the
    // log's own appends always do).
    //
    // A process paused in the middle of this transaction (SIGSTOP, a
    // partition) would hold the lease rows' locks for as long as it is
    // paused, and no other process could take its projectors over: the
    // server ends a transaction whose client goes quiet for
    // 3 s ([`COMMIT_SETTINGS`]; a commit never waits on its client
    // longer than a round trip), and the paused process finds its batch
    // refused when it resumes.
    let relaxed = tx.batch_execute(COMMIT_SETTINGS);
    let fences = futures_util::future::try_join_all(
        fence_params.iter().map(|params| tx.query(&holds, params)),
    );
    let applied = futures_util::future::try_join_all(
        statements
            .iter()
            .map(|(statement, params)| tx.execute(statement, params)),
    );
    let moved = futures_util::future::try_join_all(
        move_params.iter().map(|params| tx.execute(&moves, params)),
    );
    let (_, fences, _, moved) =
        futures_util::future::try_join4(relaxed, fences, applied, moved).await?;
    let failed = batches
        .iter()
        .zip(fences.iter().zip(&moved))
        .find(|(_, (fence, moved))| fence.is_empty() || **moved != 1);
    if let Some((batch, _)) = failed {
        return refused(tx, batch).await;
    }
    for batch in batches
        .iter()
        .filter(|b| b.copy == CopyKind::Live && !b.changes.is_empty())
    {
        stop_point::reached(StopPoint::InTransaction, &batch.lease.projector);
    }
    // Readers wait for live checkpoints only; a rebuild's copies tell nobody.
    let notices: Vec<String> = batches
        .iter()
        .filter(|b| b.copy == CopyKind::Live)
        .map(|b| format!("{}:{}", b.lease.projector, b.to))
        .collect();
    if !notices.is_empty() {
        tx.execute(NOTIFY_CHECKPOINTS, &[&notices]).await?;
    }
    tx.commit().await?;
    Ok(())
}
