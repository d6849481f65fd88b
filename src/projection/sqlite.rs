//! Projections of the embedded store: `projections.sqlite3` beside the log,
//! a separate file so that projection writes never wait for the log's
//! writer (SQLite has one writer per file).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use crate::projection::digest::ProjectionDigest;
use crate::projection::lease::{Lease, ProjectorRow, Takeover};
use crate::projection::query::{count, select, Condition};
use crate::projection::{
    to_sql_in, BulkTable, CopyKind, Dialect, ProjectionError, ProjectionStore, RowChange, SqlValue,
};

mod copies;

mod migrations {
    refinery::embed_migrations!("projections/sqlite");
}

/// File name of the projections inside the data directory.
pub const DATABASE_FILE: &str = "projections.sqlite3";

#[derive(Clone)]
pub struct SqliteProjections {
    path: PathBuf,
}

impl SqliteProjections {
    /// Opens (creating and migrating) the projections in `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Self, ProjectionError> {
        std::fs::create_dir_all(data_dir).map_err(|e| ProjectionError::Backend(e.to_string()))?;
        let path = data_dir.join(DATABASE_FILE);
        let store = Self { path };
        store
            .run(|conn| {
                migrations::migrations::runner()
                    .run(conn)
                    .map_err(|e| ProjectionError::Backend(e.to_string()))?;
                Ok(())
            })
            .await?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a fresh connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ProjectionError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ProjectionError> + Send + 'static,
    {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = Connection::open(&path)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            f(&mut conn)
        })
        .await
        .map_err(|e| ProjectionError::Backend(e.to_string()))?
    }
}

/// SQLite's clock in milliseconds since the Unix epoch (the leases' time).
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

fn lease_is_live(conn: &Connection, lease: &Lease) -> Result<bool, ProjectionError> {
    let live: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM projection_leases \
             WHERE projector = ?1 AND holder = ?2 AND token = ?3 AND expires_at > {NOW_MS}"
        ),
        rusqlite::params![lease.projector, lease.holder, lease.token],
        |r| r.get(0),
    )?;
    Ok(live == 1)
}

fn fenced(lease: &Lease, expected: u64) -> ProjectionError {
    ProjectionError::Fenced {
        projector: lease.projector.clone(),
        expected,
    }
}

fn owned(projector: &str, tables: &[&str]) -> (String, Vec<String>) {
    (
        projector.to_owned(),
        tables.iter().map(|t| (*t).to_owned()).collect(),
    )
}

/// A row as a JSON object of its columns (JSON columns parsed).
pub(crate) fn row_json(
    row: &rusqlite::Row<'_>,
    names: &[String],
) -> Result<serde_json::Value, ProjectionError> {
    let mut object = serde_json::Map::new();
    for (i, name) in names.iter().enumerate() {
        let value = match row.get::<_, Value>(i)? {
            Value::Null => serde_json::Value::Null,
            Value::Integer(n) => n.into(),
            Value::Real(f) => f.into(),
            Value::Text(s)
                if matches!(
                    name.as_str(),
                    "targets"
                        | "notify_categories"
                        | "assigned_customers"
                        | "licenses"
                        | "customers"
                ) =>
            {
                serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s))
            }
            Value::Text(s) => s.into(),
            Value::Blob(b) => hex::encode(b).into(),
        };
        object.insert(name.clone(), value);
    }
    Ok(serde_json::Value::Object(object))
}

fn bind(value: &SqlValue) -> Value {
    match value {
        SqlValue::Text(v) => v.clone().map_or(Value::Null, Value::Text),
        SqlValue::Int(v) => v.map_or(Value::Null, Value::Integer),
        SqlValue::Time(v) => v.map_or(Value::Null, |t| {
            Value::Text(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }),
        SqlValue::Json(v) => v
            .as_ref()
            .map_or(Value::Null, |j| Value::Text(j.to_string())),
    }
}

#[async_trait]
impl ProjectionStore for SqliteProjections {
    async fn checkpoint(&self, projector: &str) -> Result<u64, ProjectionError> {
        let projector = projector.to_owned();
        self.run(move |conn| {
            let position: Option<i64> = conn
                .query_row(
                    "SELECT position FROM projection_checkpoints WHERE projector = ?1",
                    [&projector],
                    |r| r.get(0),
                )
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    other => Err(other),
                })?;
            Ok(position.unwrap_or(0) as u64)
        })
        .await
    }

    async fn projector_rows(&self) -> Result<Vec<ProjectorRow>, ProjectionError> {
        self.run(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT c.projector, c.position, l.holder, COALESCE(l.token, 0), l.expires_at, l.failure \
                 FROM projection_checkpoints c \
                 LEFT JOIN projection_leases l ON l.projector = c.projector AND l.expires_at > {NOW_MS} \
                 ORDER BY c.projector"
            ))?;
            let rows = stmt.query_map([], |r| {
                Ok(ProjectorRow {
                    projector: r.get(0)?,
                    position: r.get::<_, i64>(1)?.max(0) as u64,
                    holder: r.get(2)?,
                    token: r.get(3)?,
                    lease_expires_at: r
                        .get::<_, Option<i64>>(4)?
                        .and_then(DateTime::<Utc>::from_timestamp_millis),
                    failure: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn acquire_lease(
        &self,
        projector: &str,
        holder: &str,
        ttl: std::time::Duration,
        takeover: Takeover,
    ) -> Result<Option<Lease>, ProjectionError> {
        let (projector, holder) = (projector.to_owned(), holder.to_owned());
        let ttl_ms = ttl.as_millis() as i64;
        let preempt = takeover == Takeover::Preempt;
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO projection_checkpoints (projector, position) VALUES (?1, 0) \
                 ON CONFLICT (projector) DO NOTHING",
                [&projector],
            )?;
            let token: Option<i64> = tx
                .query_row(
                    &format!(
                        "INSERT INTO projection_leases AS l (projector, holder, token, acquired_at, expires_at) \
                         VALUES (?1, ?2, 1, {NOW_MS}, {NOW_MS} + ?3) \
                         ON CONFLICT (projector) DO UPDATE SET \
                           holder = excluded.holder, token = l.token + 1, \
                           acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, failure = NULL \
                         WHERE ?4 OR l.expires_at <= {NOW_MS} OR l.holder = excluded.holder \
                         RETURNING token"
                    ),
                    rusqlite::params![projector, holder, ttl_ms, preempt],
                    |r| r.get(0),
                )
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    other => Err(other),
                })?;
            tx.commit()?;
            Ok(token.map(|token| Lease {
                projector,
                holder,
                token,
            }))
        })
        .await
    }

    async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: std::time::Duration,
    ) -> Result<bool, ProjectionError> {
        let lease = lease.clone();
        let ttl_ms = ttl.as_millis() as i64;
        self.run(move |conn| {
            let renewed = conn.execute(
                &format!(
                    "UPDATE projection_leases SET expires_at = {NOW_MS} + ?4 \
                     WHERE projector = ?1 AND holder = ?2 AND token = ?3 AND expires_at > {NOW_MS}"
                ),
                rusqlite::params![lease.projector, lease.holder, lease.token, ttl_ms],
            )?;
            Ok(renewed == 1)
        })
        .await
    }

    async fn report_failure(
        &self,
        lease: &Lease,
        failure: Option<&str>,
    ) -> Result<(), ProjectionError> {
        let lease = lease.clone();
        let failure = failure.map(str::to_owned);
        self.run(move |conn| {
            conn.execute(
                "UPDATE projection_leases SET failure = ?4 \
                 WHERE projector = ?1 AND holder = ?2 AND token = ?3",
                rusqlite::params![lease.projector, lease.holder, lease.token, failure],
            )?;
            Ok(())
        })
        .await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), ProjectionError> {
        let lease = lease.clone();
        self.run(move |conn| {
            conn.execute(
                &format!(
                    "UPDATE projection_leases SET expires_at = {NOW_MS} \
                     WHERE projector = ?1 AND holder = ?2 AND token = ?3"
                ),
                rusqlite::params![lease.projector, lease.holder, lease.token],
            )?;
            Ok(())
        })
        .await
    }

    async fn commit_into(
        &self,
        lease: &Lease,
        copy: CopyKind,
        changes: Vec<RowChange>,
        from: u64,
        to: u64,
    ) -> Result<(), ProjectionError> {
        let lease = lease.clone();
        self.run(move |conn| {
            // IMMEDIATE: the write lock first, so the fence checked here
            // holds until the commit.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if !lease_is_live(&tx, &lease)? {
                return Err(fenced(&lease, from));
            }
            for change in &changes {
                let (sql, params) = to_sql_in(change, Dialect::Sqlite, copy);
                let values: Vec<Value> = params.into_iter().map(bind).collect();
                tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
            }
            let moved = tx.execute(
                "UPDATE projection_checkpoints SET position = ?3 WHERE projector = ?1 AND position = ?2",
                rusqlite::params![lease.projector, from as i64, to as i64],
            )?;
            if moved != 1 {
                return Err(fenced(&lease, from));
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn open_copy(
        &self,
        projector: &str,
        tables: &[&str],
        _bulk: &[BulkTable],
        copy: CopyKind,
        resume: bool,
    ) -> Result<u64, ProjectionError> {
        // SQLite keeps a table's keys in the table itself (and its inserts
        // are not what a rebuild waits for): every copy is made with them.
        let (projector, tables) = owned(projector, tables);
        self.run(move |conn| copies::open(conn, &projector, &tables, copy, resume))
            .await
    }

    async fn index_copy(
        &self,
        _tables: &[&str],
        _bulk: &[BulkTable],
        _copy: CopyKind,
    ) -> Result<(), ProjectionError> {
        // SQLite cannot rename an index: the swap creates them under their
        // live names, after dropping the old table.
        Ok(())
    }

    async fn swap_in(&self, live: &Lease, tables: &[&str]) -> Result<u64, ProjectionError> {
        let live = live.clone();
        let (_, tables) = owned("", tables);
        self.run(move |conn| copies::swap_in(conn, &live, &tables))
            .await
    }

    async fn drop_copy(
        &self,
        projector: &str,
        tables: &[&str],
        copy: CopyKind,
    ) -> Result<(), ProjectionError> {
        let (projector, tables) = owned(projector, tables);
        self.run(move |conn| copies::drop(conn, &projector, &tables, copy))
            .await
    }

    async fn digest(
        &self,
        projector: &str,
        tables: &[&str],
        copy: CopyKind,
    ) -> Result<ProjectionDigest, ProjectionError> {
        let (projector, tables) = owned(projector, tables);
        self.run(move |conn| copies::digest(conn, &projector, &tables, copy))
            .await
    }

    async fn rows_only_in(
        &self,
        table: &str,
        a: CopyKind,
        b: CopyKind,
        limit: usize,
    ) -> Result<Vec<String>, ProjectionError> {
        let table = table.to_owned();
        self.run(move |conn| copies::rows_only_in(conn, &table, a, b, limit))
            .await
    }

    async fn activity_counts(
        &self,
        accounts: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>, ProjectionError> {
        let mut values: Vec<Value> = accounts.iter().cloned().map(Value::Text).collect();
        let marks = (1..=values.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let n = values.len();
        values.push(bind(&SqlValue::Time(Some(from))));
        values.push(bind(&SqlValue::Time(Some(to))));
        let sql = format!(
            "SELECT action_type, count(*) FROM proj_activity \
             WHERE account_id IN ({marks}) AND recorded_at >= ?{} AND recorded_at < ?{} \
             AND action_type IS NOT NULL GROUP BY action_type ORDER BY action_type",
            n + 1,
            n + 2
        );
        self.run(move |conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn count(
        &self,
        table: &str,
        conditions: &[Condition<'_>],
    ) -> Result<u64, ProjectionError> {
        let (sql, values) = count(table, conditions, Dialect::Sqlite);
        let values: Vec<Value> = values.iter().map(bind).collect();
        self.run(move |conn| {
            let n: i64 = conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(values), |row| row.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn query(
        &self,
        table: &str,
        conditions: &[Condition<'_>],
        order_by: &str,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, ProjectionError> {
        let (sql, values) = select(table, "*", conditions, order_by, limit, Dialect::Sqlite);
        let values: Vec<Value> = values.iter().map(bind).collect();
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
            let mut rows = stmt.query(params_from_iter(values))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(row_json(row, &names)?);
            }
            Ok(out)
        })
        .await
    }
}
