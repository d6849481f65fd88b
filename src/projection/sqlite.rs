//! Projections of the embedded store: `projections.sqlite3` beside the log,
//! a separate file so that projection writes never wait for the log's
//! writer (SQLite has one writer per file).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use crate::projection::query::{select, Condition};
use crate::projection::{
    checkpoint_change, to_sql, Dialect, ProjectionError, ProjectionStore, RowChange, SqlValue,
};

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

    async fn commit(
        &self,
        projector: &str,
        changes: &[RowChange],
        position: u64,
    ) -> Result<(), ProjectionError> {
        let projector = projector.to_owned();
        let changes = changes.to_vec();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let checkpoint = checkpoint_change(&projector, position);
            for change in changes.iter().chain(std::iter::once(&checkpoint)) {
                let (sql, params) = to_sql(change, Dialect::Sqlite);
                let values: Vec<Value> = params.into_iter().map(bind).collect();
                tx.prepare_cached(&sql)?.execute(params_from_iter(values))?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn reset(&self, projector: &str, tables: &[&str]) -> Result<(), ProjectionError> {
        let projector = projector.to_owned();
        let tables: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            for table in &tables {
                tx.execute_batch(&format!("DELETE FROM {table}"))?;
            }
            tx.execute(
                "DELETE FROM projection_checkpoints WHERE projector = ?1",
                [&projector],
            )?;
            tx.commit()?;
            Ok(())
        })
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
                let mut object = serde_json::Map::new();
                for (i, name) in names.iter().enumerate() {
                    let value = match row.get::<_, Value>(i)? {
                        Value::Null => serde_json::Value::Null,
                        Value::Integer(n) => n.into(),
                        Value::Real(f) => f.into(),
                        Value::Text(s)
                            if matches!(
                                name.as_str(),
                                "targets" | "notify_categories" | "assigned_customers" | "licenses"
                            ) =>
                        {
                            serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s))
                        }
                        Value::Text(s) => s.into(),
                        Value::Blob(b) => hex::encode(b).into(),
                    };
                    object.insert(name.clone(), value);
                }
                out.push(serde_json::Value::Object(object));
            }
            Ok(out)
        })
        .await
    }
}
