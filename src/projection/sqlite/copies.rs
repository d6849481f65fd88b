//! Copies of projection tables in the embedded store: built beside the live
//! tables by a live rebuild, swapped in with one transaction, digested.
//!
//! The same contract as on PostgreSQL (see `postgres/copies.rs`). SQLite
//! readers see a snapshot (WAL), so the swap — drop the live table, rename
//! the copy, create the indexes under their live names (SQLite cannot
//! rename an index) — is invisible until it commits, and then complete.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::projection::digest::{ProjectionDigest, TableDigest};
use crate::projection::lease::Lease;
use crate::projection::{CopyKind, ProjectionError};

use super::{fenced, lease_is_live, row_json};

/// The `CREATE TABLE` statement of a table.
fn table_sql(conn: &Connection, table: &str) -> Result<Option<String>, ProjectionError> {
    Ok(conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()?)
}

/// The `CREATE INDEX` statements of a table's own indexes (not the
/// automatic ones of its keys).
fn index_sqls(conn: &Connection, table: &str) -> Result<Vec<String>, ProjectionError> {
    let mut stmt = conn.prepare(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL \
         ORDER BY name",
    )?;
    let sqls = stmt.query_map([table], |r| r.get(0))?;
    Ok(sqls.collect::<Result<Vec<String>, _>>()?)
}

pub(super) fn open(
    conn: &mut Connection,
    projector: &str,
    tables: &[String],
    copy: CopyKind,
    resume: bool,
) -> Result<u64, ProjectionError> {
    let key = copy.key(projector);
    let suffix = copy.suffix();
    if resume {
        let position: Option<i64> = conn
            .query_row(
                "SELECT position FROM projection_checkpoints WHERE projector = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()?;
        let mut complete = position.is_some();
        for table in tables {
            complete &= table_sql(conn, &format!("{table}{suffix}"))?.is_some();
        }
        if let (true, Some(position)) = (complete, position) {
            return Ok(position.max(0) as u64);
        }
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for table in tables {
        let copy_name = format!("{table}{suffix}");
        let sql = table_sql(&tx, table)?
            .ok_or_else(|| ProjectionError::Backend(format!("no table {table}")))?;
        // Quoted once SQLite has rewritten it (after a swap's rename).
        let rest = sql
            .strip_prefix(&format!("CREATE TABLE {table}"))
            .or_else(|| sql.strip_prefix(&format!("CREATE TABLE \"{table}\"")));
        let Some(rest) = rest else {
            return Err(ProjectionError::Backend(format!(
                "cannot read the definition of {table}: {sql}"
            )));
        };
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {copy_name}; CREATE TABLE {copy_name}{rest};"
        ))?;
    }
    tx.execute(
        "INSERT INTO projection_checkpoints (projector, position) VALUES (?1, 0) \
         ON CONFLICT (projector) DO UPDATE SET position = 0",
        [&key],
    )?;
    tx.commit()?;
    Ok(0)
}

pub(super) fn swap_in(
    conn: &mut Connection,
    live: &Lease,
    tables: &[String],
) -> Result<u64, ProjectionError> {
    let suffix = CopyKind::Next.suffix();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !lease_is_live(&tx, live)? {
        return Err(fenced(live, 0));
    }
    let next = CopyKind::Next.key(&live.projector);
    let position: i64 = tx
        .query_row(
            "SELECT position FROM projection_checkpoints WHERE projector = ?1",
            [&next],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| {
            ProjectionError::Backend(format!("no rebuilt copy of {}", live.projector))
        })?;
    for table in tables {
        let indexes = index_sqls(&tx, table)?;
        tx.execute_batch(&format!(
            "DROP TABLE {table}; ALTER TABLE {table}{suffix} RENAME TO {table};"
        ))?;
        for sql in indexes {
            tx.execute_batch(&sql)?;
        }
    }
    tx.execute(
        "UPDATE projection_checkpoints SET position = ?2 WHERE projector = ?1",
        params![live.projector, position],
    )?;
    tx.execute(
        "DELETE FROM projection_checkpoints WHERE projector = ?1",
        [&next],
    )?;
    tx.commit()?;
    Ok(position.max(0) as u64)
}

pub(super) fn drop(
    conn: &mut Connection,
    projector: &str,
    tables: &[String],
    copy: CopyKind,
) -> Result<(), ProjectionError> {
    if copy == CopyKind::Live {
        return Err(ProjectionError::Backend(
            "the live tables are not a copy".into(),
        ));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for table in tables {
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {table}{};", copy.suffix()))?;
    }
    tx.execute(
        "DELETE FROM projection_checkpoints WHERE projector = ?1",
        [&copy.key(projector)],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn digest(
    conn: &mut Connection,
    projector: &str,
    tables: &[String],
    copy: CopyKind,
) -> Result<ProjectionDigest, ProjectionError> {
    // A read transaction: one snapshot for the checkpoint and every row.
    let tx = conn.transaction()?;
    let position: i64 = tx
        .query_row(
            "SELECT position FROM projection_checkpoints WHERE projector = ?1",
            [&copy.key(projector)],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let mut digests = Vec::with_capacity(tables.len());
    for table in tables {
        let mut stmt = tx.prepare(&format!("SELECT * FROM {table}{}", copy.suffix()))?;
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([])?;
        let mut digest = TableDigest::default();
        while let Some(row) = rows.next()? {
            digest.add(&row_json(row, &names)?);
        }
        digests.push((table.clone(), digest));
    }
    tx.commit()?;
    Ok(ProjectionDigest::new(
        projector,
        position.max(0) as u64,
        digests,
    ))
}

pub(super) fn rows_only_in(
    conn: &mut Connection,
    table: &str,
    a: CopyKind,
    b: CopyKind,
    limit: usize,
) -> Result<Vec<String>, ProjectionError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT * FROM {table}{} EXCEPT SELECT * FROM {table}{} LIMIT {limit}",
        a.suffix(),
        b.suffix()
    ))?;
    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(row_json(row, &names)?.to_string());
    }
    Ok(out)
}
