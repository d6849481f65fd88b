//! Copies of projection tables on PostgreSQL: built beside the live tables
//! by a live rebuild, swapped in with one transaction, digested.
//!
//! Why renames: readers keep reading the live tables for the whole rebuild;
//! the swap is `DROP` + `ALTER TABLE … RENAME` + `ALTER INDEX … RENAME` in
//! one transaction, so a reader sees either the old table or the new one.
//! A query that was waiting for the table's lock looks the name up again
//! once it gets it, and prepared statements are re-analysed by name, so no
//! reader fails on the dropped table. The copy gets the live table's
//! columns, defaults, checks, keys and grants at once and its secondary
//! indexes only after it is filled (building an index once is cheaper than
//! maintaining it row by row); the indexes take the live names at the swap.
//! A copy is filled with autovacuum off: its rows are only inserted, there
//! is nothing to clean, and its statistics are taken once, after the
//! indexes — autovacuum would vacuum and analyze it again and again as it
//! grows, beside the fill. The swap turns it back on.
//!
//! A copy is filled through the WAL like any table. Filling it UNLOGGED and
//! making it permanent before its indexes was measured on the 10 M-event
//! portal: the fill took as long (it is bound by the work per row, not by
//! the WAL), and `SET LOGGED` — a rewrite of every copy — added 70 s.

use deadpool_postgres::Object;
use futures_util::{pin_mut, TryStreamExt};
use tokio_postgres::types::ToSql;

use crate::projection::digest::{ProjectionDigest, TableDigest};
use crate::projection::lease::Lease;
use crate::projection::{BulkTable, CopyKind, ProjectionError};

/// The live table's primary-key and unique constraints: (name, definition).
async fn key_constraints(
    client: &impl deadpool_postgres::GenericClient,
    table: &str,
) -> Result<Vec<(String, String)>, ProjectionError> {
    let rows = client
        .query(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = $1::text::regclass AND contype IN ('p', 'u') ORDER BY conname",
            &[&table],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The table's indexes that no constraint owns: (name, definition).
async fn secondary_indexes(
    client: &impl deadpool_postgres::GenericClient,
    table: &str,
) -> Result<Vec<(String, String)>, ProjectionError> {
    let rows = client
        .query(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indrelid = $1::text::regclass \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) \
             ORDER BY i.relname",
            &[&table],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn table_exists(
    client: &impl deadpool_postgres::GenericClient,
    table: &str,
) -> Result<bool, ProjectionError> {
    let row = client
        .query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&table])
        .await?;
    Ok(row.get(0))
}

/// How long a swap waits for the live table's readers.
const SWAP_LOCK_TIMEOUT_MS: u64 = 3_000;

pub(super) async fn open(
    client: &mut Object,
    projector: &str,
    tables: &[&str],
    bulk: &[BulkTable],
    copy: CopyKind,
    resume: bool,
) -> Result<u64, ProjectionError> {
    let key = copy.key(projector);
    let suffix = copy.suffix();
    if resume {
        let row = client
            .query_opt(
                "SELECT position FROM projection_checkpoints WHERE projector = $1",
                &[&key],
            )
            .await?;
        let mut complete = row.is_some();
        for table in tables {
            complete &= table_exists(&*client, &format!("{table}{suffix}")).await?;
        }
        if let (true, Some(row)) = (complete, row) {
            return Ok(row.get::<_, i64>(0).max(0) as u64);
        }
    }
    let tx = client.transaction().await?;
    for table in tables {
        let copy_name = format!("{table}{suffix}");
        tx.batch_execute(&format!(
            "DROP TABLE IF EXISTS {copy_name}; \
             CREATE TABLE {copy_name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
             INCLUDING GENERATED INCLUDING STORAGE); \
             ALTER TABLE {copy_name} SET (autovacuum_enabled = false)"
        ))
        .await?;
        // A bulk table gets its keys after the fill (see `missing_keys`).
        let keyed_later = bulk.iter().any(|b| b.table == *table);
        for (name, definition) in key_constraints(&tx, table).await? {
            if keyed_later {
                continue;
            }
            tx.batch_execute(&format!(
                "ALTER TABLE {copy_name} ADD CONSTRAINT {name}{suffix} {definition}"
            ))
            .await?;
        }
        // The live table's grants (the service's role reads and writes it).
        let grants = tx
            .query(
                "SELECT a.privilege_type, \
                        CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END \
                 FROM pg_class c, aclexplode(c.relacl) a \
                 LEFT JOIN pg_roles r ON r.oid = a.grantee \
                 WHERE c.oid = $1::text::regclass AND a.grantee <> c.relowner",
                &[table],
            )
            .await?;
        for grant in grants {
            let (privilege, grantee): (String, String) = (grant.get(0), grant.get(1));
            tx.batch_execute(&format!("GRANT {privilege} ON {copy_name} TO {grantee}"))
                .await?;
        }
    }
    tx.execute(
        "INSERT INTO projection_checkpoints (projector, position) VALUES ($1, 0) \
         ON CONFLICT (projector) DO UPDATE SET position = 0",
        &[&key],
    )
    .await?;
    tx.commit().await?;
    Ok(0)
}

/// The statements that give the copies of `tables` their secondary indexes,
/// the slowest kind (GIN) first.
pub(super) async fn index_statements(
    client: &Object,
    tables: &[&str],
    copy: CopyKind,
) -> Result<Vec<String>, ProjectionError> {
    let suffix = copy.suffix();
    let mut statements = Vec::new();
    for table in tables {
        for (name, definition) in secondary_indexes(client, table).await? {
            let Some(sql) = copy_index_sql(&name, &definition, table, suffix) else {
                return Err(ProjectionError::Backend(format!(
                    "cannot read the definition of index {name}: {definition}"
                )));
            };
            statements.push(sql);
        }
    }
    statements.sort_by_key(|sql| !sql.contains(" USING gin "));
    Ok(statements)
}

/// A key a bulk-filled copy lacks: built as a unique index with the
/// secondary indexes, then made the constraint ([`add_keys`]).
#[derive(Clone)]
pub(super) struct MissingKey {
    bulk: BulkTable,
    /// The copy's table.
    table: String,
    /// The constraint's (and its index's) name in the copy.
    name: String,
    /// `PRIMARY KEY` or `UNIQUE`.
    kind: &'static str,
    /// What follows the kind in the live definition: `(columns)`.
    columns: String,
}

/// The keys of the bulk tables' copies that are not there yet.
pub(super) async fn missing_keys(
    client: &Object,
    bulk: &[BulkTable],
    copy: CopyKind,
) -> Result<Vec<MissingKey>, ProjectionError> {
    let suffix = copy.suffix();
    let mut missing = Vec::new();
    for table in bulk {
        let copy_name = format!("{}{suffix}", table.table);
        let present = key_constraints(client, &copy_name).await?;
        for (name, definition) in key_constraints(client, table.table).await? {
            let name = format!("{name}{suffix}");
            if present.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let (kind, columns) = ["PRIMARY KEY", "UNIQUE"]
                .into_iter()
                .find_map(|kind| {
                    let columns = definition.strip_prefix(kind)?.trim_start();
                    columns.starts_with('(').then(|| (kind, columns.to_owned()))
                })
                .ok_or_else(|| {
                    ProjectionError::Backend(format!(
                        "cannot build the key {name} of {copy_name} after its fill: {definition}"
                    ))
                })?;
            missing.push(MissingKey {
                bulk: *table,
                table: copy_name.clone(),
                name,
                kind,
                columns,
            });
        }
    }
    Ok(missing)
}

/// One index a filled copy is given.
pub(super) enum IndexBuild {
    /// A key's unique index.
    Key(MissingKey),
    /// `CREATE INDEX …` of a secondary index.
    Secondary(String),
}

/// Builds one index with room to sort in memory (a GIN index built in
/// 64 MB writes and merges many runs). A key's index that finds a key
/// twice drops the rows the key would have refused (see [`BulkTable`]) and
/// is built again.
pub(super) async fn build_index(
    client: &mut Object,
    build: IndexBuild,
) -> Result<(), ProjectionError> {
    let started = std::time::Instant::now();
    let (sql, name) = match &build {
        IndexBuild::Key(key) => (
            format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} {}",
                key.name, key.table, key.columns
            ),
            key.name.as_str(),
        ),
        IndexBuild::Secondary(sql) => (sql.clone(), index_name(sql)),
    };
    let mut built = with_sort_memory(client, &sql).await;
    if let (IndexBuild::Key(key), Err(e)) = (&build, &built) {
        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
            let dropped = drop_refused_rows(client, key).await?;
            tracing::info!(
                table = key.table,
                dropped,
                "rebuild: rows a key would have refused dropped"
            );
            built = with_sort_memory(client, &sql).await;
        }
    }
    built?;
    tracing::info!(
        index = name,
        seconds = started.elapsed().as_secs_f64(),
        "rebuild: index built"
    );
    Ok(())
}

/// The index a `CREATE INDEX IF NOT EXISTS name ON …` statement builds.
fn index_name(sql: &str) -> &str {
    sql.split_once(" EXISTS ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or(sql)
}

async fn with_sort_memory(client: &mut Object, sql: &str) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'; {sql}"
    ))
    .await?;
    tx.commit().await
}

/// Deletes every row of a bulk-filled copy but the first (smallest
/// `first_by`) of each key; returns how many.
async fn drop_refused_rows(client: &Object, key: &MissingKey) -> Result<u64, ProjectionError> {
    let BulkTable {
        key: column,
        first_by,
        ..
    } = key.bulk;
    let table = &key.table;
    Ok(client
        .execute(
            &format!(
                "DELETE FROM {table} WHERE ctid = ANY (ARRAY (SELECT ctid FROM \
                 (SELECT ctid, row_number() OVER (PARTITION BY {column} ORDER BY {first_by}) AS n \
                  FROM {table}) AS ranked WHERE n > 1))"
            ),
            &[],
        )
        .await?)
}

/// Makes the keys' unique indexes the copies' constraints (which the swap
/// renames to the live names).
pub(super) async fn add_keys(client: &Object, keys: &[MissingKey]) -> Result<(), ProjectionError> {
    for key in keys {
        client
            .batch_execute(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} {kind} USING INDEX {name}",
                table = key.table,
                name = key.name,
                kind = key.kind,
            ))
            .await?;
    }
    Ok(())
}

/// `maintenance_work_mem` of an index build (two run at once). A GIN
/// index over 10 M activity descriptions built in 256 MB writes and merges
/// many runs; in 1 GB far fewer.
const INDEX_BUILD_MEMORY: &str = "1GB";

/// `CREATE INDEX name ON schema.table …` as the same index named
/// `name<suffix>` on `table<suffix>` (if not there yet).
fn copy_index_sql(name: &str, definition: &str, table: &str, suffix: &str) -> Option<String> {
    let marker = format!("INDEX {name} ON ");
    let at = definition.find(&marker)?;
    let (head, rest) = definition.split_at(at);
    let after = &rest[marker.len()..];
    let (qualified, tail) = after.split_once(' ')?;
    let schema = qualified
        .strip_suffix(&format!(".{table}"))
        .map_or(String::new(), |s| format!("{s}."));
    if !qualified.ends_with(table) {
        return None;
    }
    Some(format!(
        "{head}INDEX IF NOT EXISTS {name}{suffix} ON {schema}{table}{suffix} {tail}"
    ))
}

pub(super) async fn swap_in(
    client: &mut Object,
    live: &Lease,
    tables: &[&str],
) -> Result<u64, ProjectionError> {
    let suffix = CopyKind::Next.suffix();
    let tx = client.transaction().await?;
    // DROP waits for every reader of the table, and every new reader waits
    // behind the DROP: a long export must not turn the swap into an outage.
    // Give up after a moment instead; the rebuild catches up and tries again.
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        SWAP_LOCK_TIMEOUT_MS
    ))
    .await?;
    let params: [&(dyn ToSql + Sync); 3] = [&live.projector, &live.holder, &live.token];
    if tx
        .query(super::batch_commit::LEASE_IS_LIVE, &params)
        .await?
        .is_empty()
    {
        return Err(ProjectionError::Fenced {
            projector: live.projector.clone(),
            expected: 0,
        });
    }
    let next = CopyKind::Next.key(&live.projector);
    let position: i64 = tx
        .query_opt(
            "SELECT position FROM projection_checkpoints WHERE projector = $1",
            &[&next],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| {
            ProjectionError::Backend(format!("no rebuilt copy of {}", live.projector))
        })?;
    for table in tables {
        let copy_name = format!("{table}{suffix}");
        let indexes = secondary_indexes(&tx, table).await?;
        let constraints = key_constraints(&tx, &copy_name).await?;
        let dropped = tx
            .batch_execute(&format!(
                "DROP TABLE {table}; ALTER TABLE {copy_name} RENAME TO {table}"
            ))
            .await;
        if let Err(e) = dropped {
            if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
                return Err(ProjectionError::SwapBlocked {
                    table: (*table).to_owned(),
                });
            }
            return Err(e.into());
        }
        for (name, _) in indexes {
            tx.batch_execute(&format!(
                "ALTER INDEX IF EXISTS {name}{suffix} RENAME TO {name}"
            ))
            .await?;
        }
        // Filled without autovacuum (see `open`); live, it is a table
        // like any other.
        tx.batch_execute(&format!("ALTER TABLE {table} RESET (autovacuum_enabled)"))
            .await?;
        for (name, _) in constraints {
            if let Some(live_name) = name.strip_suffix(suffix) {
                tx.batch_execute(&format!(
                    "ALTER TABLE {table} RENAME CONSTRAINT {name} TO {live_name}"
                ))
                .await?;
            }
        }
    }
    tx.execute(
        "UPDATE projection_checkpoints SET position = $2 WHERE projector = $1",
        &[&live.projector, &position],
    )
    .await?;
    tx.execute(
        "DELETE FROM projection_checkpoints WHERE projector = $1",
        &[&next],
    )
    .await?;
    tx.execute(
        "SELECT pg_notify('projection_checkpoints', $1 || ':' || $2::bigint)",
        &[&live.projector, &position],
    )
    .await?;
    tx.commit().await?;
    Ok(position.max(0) as u64)
}

pub(super) async fn drop(
    client: &mut Object,
    projector: &str,
    tables: &[&str],
    copy: CopyKind,
) -> Result<(), ProjectionError> {
    if copy == CopyKind::Live {
        return Err(ProjectionError::Backend(
            "the live tables are not a copy".into(),
        ));
    }
    let tx = client.transaction().await?;
    for table in tables {
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {table}{}", copy.suffix()))
            .await?;
    }
    tx.execute(
        "DELETE FROM projection_checkpoints WHERE projector = $1",
        &[&copy.key(projector)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn digest(
    client: &mut Object,
    projector: &str,
    tables: &[&str],
    copy: CopyKind,
) -> Result<ProjectionDigest, ProjectionError> {
    // One snapshot for the checkpoint and every row.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let position: i64 = tx
        .query_opt(
            "SELECT position FROM projection_checkpoints WHERE projector = $1",
            &[&copy.key(projector)],
        )
        .await?
        .map_or(0, |r| r.get(0));
    let mut digests = Vec::with_capacity(tables.len());
    for table in tables {
        let sql = format!(
            "SELECT row_to_json(t)::text FROM {table}{} t",
            copy.suffix()
        );
        let rows = tx.query_raw(&sql, std::iter::empty::<&str>()).await?;
        pin_mut!(rows);
        let mut digest = TableDigest::default();
        while let Some(row) = rows.try_next().await? {
            let value: serde_json::Value = serde_json::from_str(row.get::<_, &str>(0))
                .map_err(|e| ProjectionError::Backend(e.to_string()))?;
            digest.add(&value);
        }
        digests.push(((*table).to_owned(), digest));
    }
    tx.commit().await?;
    Ok(ProjectionDigest::new(
        projector,
        position.max(0) as u64,
        digests,
    ))
}

pub(super) async fn rows_only_in(
    client: &Object,
    table: &str,
    a: CopyKind,
    b: CopyKind,
    limit: usize,
) -> Result<Vec<String>, ProjectionError> {
    let sql = format!(
        "SELECT row_to_json(d)::text FROM \
         (SELECT * FROM {table}{} EXCEPT ALL SELECT * FROM {table}{}) d LIMIT {limit}",
        a.suffix(),
        b.suffix()
    );
    let rows = client.query(&sql, &[]).await?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::{copy_index_sql, index_name};

    #[test]
    fn a_build_is_logged_by_its_index_name() {
        assert_eq!(
            index_name("CREATE INDEX IF NOT EXISTS proj_a__next ON public.proj_a__next (x)"),
            "proj_a__next"
        );
    }

    #[test]
    fn an_index_definition_moves_to_the_copy() {
        assert_eq!(
            copy_index_sql(
                "proj_activity_account",
                "CREATE INDEX proj_activity_account ON public.proj_activity USING btree (account_id, \"position\" DESC)",
                "proj_activity",
                "__next"
            )
            .as_deref(),
            Some("CREATE INDEX IF NOT EXISTS proj_activity_account__next ON public.proj_activity__next USING btree (account_id, \"position\" DESC)")
        );
        assert_eq!(
            copy_index_sql(
                "g",
                "CREATE UNIQUE INDEX g ON proj_users USING gin (name gin_trgm_ops) WITH (gin_pending_list_limit='256')",
                "proj_users",
                "__at"
            )
            .as_deref(),
            Some("CREATE UNIQUE INDEX IF NOT EXISTS g__at ON proj_users__at USING gin (name gin_trgm_ops) WITH (gin_pending_list_limit='256')")
        );
    }
}
