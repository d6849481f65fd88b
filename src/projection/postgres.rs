//! Projections in PostgreSQL: plain tables next to `events` (see
//! `projections/postgres/`), migrated by their own refinery history table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls};

use crate::projection::query::{merges, select, Condition};
use crate::projection::{
    checkpoint_change, to_sql, Dialect, ProjectionError, ProjectionStore, RowChange, SqlValue,
};

mod migrations {
    refinery::embed_migrations!("projections/postgres");
}

/// Name of the refinery history table of the projection migrations.
const HISTORY_TABLE: &str = "refinery_projection_history";

#[derive(Clone)]
pub struct PgProjections {
    pool: Pool,
}

impl PgProjections {
    pub async fn connect(url: &str) -> Result<Self, ProjectionError> {
        let config: Config = url.parse()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(8)
            .build()
            .map_err(|e| ProjectionError::Backend(e.to_string()))?;
        Ok(Self { pool })
    }

    /// Applies the projection migrations (as the owner).
    pub async fn migrate(url: &str) -> Result<(), ProjectionError> {
        let config: Config = url.parse()?;
        let (mut client, connection) = config.connect(NoTls).await?;
        tokio::spawn(connection);
        migrations::migrations::runner()
            .set_migration_table_name(HISTORY_TABLE)
            .run_async(&mut client)
            .await
            .map_err(|e| ProjectionError::Backend(e.to_string()))?;
        Ok(())
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, ProjectionError> {
        self.pool
            .get()
            .await
            .map_err(|e| ProjectionError::Backend(e.to_string()))
    }
}

/// Prepared statements a connection keeps before it forgets them all (the
/// merged searches' texts vary with the number of accounts and types).
const MAX_CACHED_MERGES: usize = 256;

fn bind(value: &SqlValue) -> &(dyn ToSql + Sync) {
    match value {
        SqlValue::Text(v) => v,
        SqlValue::Int(v) => v,
        SqlValue::Time(v) => v,
        SqlValue::Json(v) => v,
    }
}

#[async_trait]
impl ProjectionStore for PgProjections {
    async fn checkpoint(&self, projector: &str) -> Result<u64, ProjectionError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT position FROM projection_checkpoints WHERE projector = $1",
                &[&projector],
            )
            .await?;
        Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    async fn commit(
        &self,
        projector: &str,
        changes: &[RowChange],
        position: u64,
    ) -> Result<(), ProjectionError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let checkpoint = checkpoint_change(projector, position);
        let mut statements = Vec::with_capacity(changes.len() + 1);
        for change in changes.iter().chain(std::iter::once(&checkpoint)) {
            let (sql, params) = to_sql(change, Dialect::Postgres);
            // A handful of distinct statements, prepared once per connection.
            let statement = tx.prepare_cached(&sql).await?;
            let params: Vec<&(dyn ToSql + Sync)> = params.into_iter().map(bind).collect();
            statements.push((statement, params));
        }
        // Pipelined: every change is sent without waiting for the previous
        // one's answer (tokio-postgres writes them in the order they are
        // first polled, and the server runs them in that order), so a batch
        // costs one round trip instead of one per row.
        futures_util::future::try_join_all(
            statements
                .iter()
                .map(|(statement, params)| tx.execute(statement, params)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reset(&self, projector: &str, tables: &[&str]) -> Result<(), ProjectionError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for table in tables {
            tx.batch_execute(&format!("DELETE FROM {table}")).await?;
        }
        tx.execute(
            "DELETE FROM projection_checkpoints WHERE projector = $1",
            &[&projector],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn activity_counts(
        &self,
        accounts: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>, ProjectionError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT action_type, count(*) FROM proj_activity \
                 WHERE account_id = ANY($1) AND recorded_at >= $2 AND recorded_at < $3 \
                 AND action_type IS NOT NULL GROUP BY action_type ORDER BY action_type",
                &[&accounts, &from, &to],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(0) as u64))
            .collect())
    }

    async fn query(
        &self,
        table: &str,
        conditions: &[Condition<'_>],
        order_by: &str,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, ProjectionError> {
        let mut client = self.client().await?;
        let (sql, values) = select(
            table,
            "row_to_json(t)::text",
            conditions,
            order_by,
            limit,
            Dialect::Postgres,
        );
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(bind).collect();
        let rows = if merges(conditions) {
            // Planning a merge of a few hundred branches costs far more
            // than running it (76 ms vs 4 ms at 202 branches), and every
            // branch's best plan is the same ordered index scan whatever
            // the values: so the statement is prepared once per connection
            // and planned once, generically (the branches' text filters
            // cannot pull in an index; see `query`).
            if client.statement_cache.size() > MAX_CACHED_MERGES {
                client.statement_cache.clear();
            }
            let statement = client.prepare_cached(&sql).await?;
            let tx = client.transaction().await?;
            tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
                .await?;
            let rows = tx.query(&statement, &params).await?;
            tx.commit().await?;
            rows
        } else {
            client.query(&sql, &params).await?
        };
        rows.iter()
            .map(|r| {
                serde_json::from_str(r.get::<_, &str>(0))
                    .map_err(|e| ProjectionError::Backend(e.to_string()))
            })
            .collect()
    }
}
