//! Projections in PostgreSQL: plain tables next to `events` (see
//! `projections/postgres/`), migrated by their own refinery history table.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::{StreamExt, TryStreamExt};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls};

use crate::projection::digest::ProjectionDigest;
use crate::projection::lease::{Lease, ProjectorRow, Takeover};
use crate::projection::query::{count, merges, select, Condition};
use crate::projection::{
    BulkTable, CopyKind, Dialect, ProjectionError, ProjectionStore, RowChange, SqlValue,
};

mod batch_commit;
mod copies;
mod row_runs;

use batch_commit::{Batch, CommitQueue};

mod migrations {
    refinery::embed_migrations!("projections/postgres");
}

/// Name of the refinery history table of the projection migrations.
const HISTORY_TABLE: &str = "refinery_projection_history";

#[derive(Clone)]
pub struct PgProjections {
    pool: Pool,
    /// Live batches waiting to commit together (see `batch_commit`).
    live_commits: Arc<CommitQueue>,
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
            .max_size(16)
            .build()
            .map_err(|e| ProjectionError::Backend(e.to_string()))?;
        Ok(Self {
            pool,
            live_commits: Arc::new(CommitQueue::default()),
        })
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

/// Indexes a copy builds at once (one per core of a small server).
const INDEX_BUILDS: usize = 2;

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

    async fn projector_rows(&self) -> Result<Vec<ProjectorRow>, ProjectionError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT c.projector, c.position, l.holder, COALESCE(l.token, 0), l.expires_at, l.failure \
                 FROM projection_checkpoints c \
                 LEFT JOIN projection_leases l \
                   ON l.projector = c.projector AND l.expires_at > clock_timestamp() \
                 ORDER BY c.projector",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ProjectorRow {
                projector: r.get(0),
                position: r.get::<_, i64>(1).max(0) as u64,
                holder: r.get(2),
                token: r.get(3),
                lease_expires_at: r.get(4),
                failure: r.get(5),
            })
            .collect())
    }

    async fn acquire_lease(
        &self,
        projector: &str,
        holder: &str,
        ttl: std::time::Duration,
        takeover: Takeover,
    ) -> Result<Option<Lease>, ProjectionError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO projection_checkpoints (projector, position) VALUES ($1, 0) \
                 ON CONFLICT (projector) DO NOTHING",
                &[&projector],
            )
            .await?;
        let ttl_ms = ttl.as_millis() as f64;
        let preempt = takeover == Takeover::Preempt;
        let row = client
            .query_opt(
                "INSERT INTO projection_leases AS l (projector, holder, token, acquired_at, expires_at) \
                 VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp() + $3::float8 * interval '1 millisecond') \
                 ON CONFLICT (projector) DO UPDATE SET \
                   holder = excluded.holder, token = l.token + 1, \
                   acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, failure = NULL \
                 WHERE $4::boolean OR l.expires_at <= clock_timestamp() OR l.holder = excluded.holder \
                 RETURNING token",
                &[&projector, &holder, &ttl_ms, &preempt],
            )
            .await?;
        Ok(row.map(|r| Lease {
            projector: projector.to_owned(),
            holder: holder.to_owned(),
            token: r.get(0),
        }))
    }

    async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: std::time::Duration,
    ) -> Result<bool, ProjectionError> {
        let client = self.client().await?;
        let ttl_ms = ttl.as_millis() as f64;
        let renewed = client
            .execute(
                "UPDATE projection_leases \
                 SET expires_at = clock_timestamp() + $4::float8 * interval '1 millisecond' \
                 WHERE projector = $1 AND holder = $2 AND token = $3 \
                   AND expires_at > clock_timestamp()",
                &[&lease.projector, &lease.holder, &lease.token, &ttl_ms],
            )
            .await?;
        Ok(renewed == 1)
    }

    async fn report_failure(
        &self,
        lease: &Lease,
        failure: Option<&str>,
    ) -> Result<(), ProjectionError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE projection_leases SET failure = $4 \
                 WHERE projector = $1 AND holder = $2 AND token = $3",
                &[&lease.projector, &lease.holder, &lease.token, &failure],
            )
            .await?;
        Ok(())
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), ProjectionError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE projection_leases SET expires_at = clock_timestamp() \
                 WHERE projector = $1 AND holder = $2 AND token = $3",
                &[&lease.projector, &lease.holder, &lease.token],
            )
            .await?;
        Ok(())
    }

    async fn commit_into(
        &self,
        lease: &Lease,
        copy: CopyKind,
        changes: Vec<RowChange>,
        from: u64,
        to: u64,
    ) -> Result<(), ProjectionError> {
        let batch = Batch {
            lease: lease.clone(),
            copy,
            changes,
            from,
            to,
        };
        match copy {
            CopyKind::Live => self.live_commits.commit(self, batch).await,
            // A rebuild's copies commit big batches of their own.
            CopyKind::Next | CopyKind::At => {
                batch_commit::commit_together(self, std::slice::from_ref(&batch)).await
            }
        }
    }

    async fn open_copy(
        &self,
        projector: &str,
        tables: &[&str],
        bulk: &[BulkTable],
        copy: CopyKind,
        resume: bool,
    ) -> Result<u64, ProjectionError> {
        let mut client = self.client().await?;
        copies::open(&mut client, projector, tables, bulk, copy, resume).await
    }

    async fn index_copy(
        &self,
        tables: &[&str],
        bulk: &[BulkTable],
        copy: CopyKind,
    ) -> Result<(), ProjectionError> {
        let client = self.client().await?;
        let keys = copies::missing_keys(&client, bulk, copy).await?;
        let statements = copies::index_statements(&client, tables, copy).await?;
        // The keys' unique indexes first (the sooner a repeated key is
        // found and its rows dropped, the fewer builds beside it wait for
        // that), then the rest, the slowest kind first. PostgreSQL builds
        // an index in one backend (a GIN index in one process whatever the
        // settings): two connections build two at once.
        let builds = keys
            .iter()
            .cloned()
            .map(copies::IndexBuild::Key)
            .chain(statements.into_iter().map(copies::IndexBuild::Secondary))
            .map(|build| {
                let this = self.clone();
                async move {
                    let mut client = this.client().await?;
                    copies::build_index(&mut client, build).await
                }
            });
        futures_util::stream::iter(builds)
            .buffer_unordered(INDEX_BUILDS)
            .try_collect::<Vec<()>>()
            .await?;
        copies::add_keys(&client, &keys).await?;
        for table in tables {
            client
                .batch_execute(&format!("ANALYZE {table}{}", copy.suffix()))
                .await?;
        }
        Ok(())
    }

    async fn swap_in(&self, live: &Lease, tables: &[&str]) -> Result<u64, ProjectionError> {
        let mut client = self.client().await?;
        let swapped = copies::swap_in(&mut client, live, tables).await;
        // The tables behind this connection's prepared statements changed.
        client.statement_cache.clear();
        swapped
    }

    async fn drop_copy(
        &self,
        projector: &str,
        tables: &[&str],
        copy: CopyKind,
    ) -> Result<(), ProjectionError> {
        let mut client = self.client().await?;
        copies::drop(&mut client, projector, tables, copy).await
    }

    async fn digest(
        &self,
        projector: &str,
        tables: &[&str],
        copy: CopyKind,
    ) -> Result<ProjectionDigest, ProjectionError> {
        let mut client = self.client().await?;
        copies::digest(&mut client, projector, tables, copy).await
    }

    async fn rows_only_in(
        &self,
        table: &str,
        a: CopyKind,
        b: CopyKind,
        limit: usize,
    ) -> Result<Vec<String>, ProjectionError> {
        let client = self.client().await?;
        copies::rows_only_in(&client, table, a, b, limit).await
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

    async fn count(
        &self,
        table: &str,
        conditions: &[Condition<'_>],
    ) -> Result<u64, ProjectionError> {
        let client = self.client().await?;
        let (sql, values) = count(table, conditions, Dialect::Postgres);
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(bind).collect();
        let row = client.query_one(&sql, &params).await?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
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
