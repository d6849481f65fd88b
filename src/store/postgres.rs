//! The PostgreSQL store, for production.
//!
//! One writer task per process owns a dedicated connection and commits
//! group batches. Each batch is two network round trips, pipelined:
//!
//! 1. `BEGIN`, `pg_advisory_xact_lock`, read the head, read the versions of
//!    the batch's streams, read already stored events with the batch's ids;
//! 2. one `INSERT … SELECT FROM unnest(…)` of every planned row,
//!    `pg_notify`, `COMMIT`.
//!
//! The advisory lock serializes writers across processes; it is released
//! only after the commit is visible, so positions become visible in order
//! and without holes. Subscribers wake on `LISTEN portal_ledger_events`
//! instead of polling. Reads use a deadpool connection pool.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::{pin_mut, StreamExt};
use tokio::sync::{mpsc, watch, OnceCell};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Row, Statement};
use uuid::Uuid;

use crate::event::{EventType, Hash, JsonObject, RecordedEvent, StreamId};
use crate::store::append::{self, AppendOutcome, StreamAppend, MAX_EVENTS_PER_APPEND};
use crate::store::batch::{self, BatchContext};
use crate::store::commit_metrics;
use crate::store::import::{BulkImport, ImportSession};
use crate::store::subscription::Subscription;
use crate::store::writer::{self, WriteRequest};
use crate::store::{EventStore, Head, ReadFilter, StoreError};

mod migrations {
    refinery::embed_migrations!("schema/postgres");
}

/// Advisory lock key that serializes writers of the log ("portalLG").
pub const WRITE_LOCK_KEY: i64 = 0x706f_7274_616c_4c47;
/// Advisory lock key that serializes migrations ("portalMG").
const MIGRATION_LOCK_KEY: i64 = 0x706f_7274_616c_4d47;
/// The channel `append` notifies and subscribers listen on.
pub const NOTIFY_CHANNEL: &str = "portal_ledger_events";
/// Upper bound on how long a subscriber sleeps if a notification is lost
/// (for instance while the listener reconnects).
const RECHECK: Duration = Duration::from_secs(5);
const POOL_SIZE: usize = 16;

const SELECT_COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
     schema_version, payload::text, metadata::text, recorded_at, prev_hash, hash";
const INSERT_COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
     schema_version, payload, metadata, recorded_at, prev_hash, hash";

struct Inner {
    config: Config,
    pool: Pool,
    writer: mpsc::Sender<WriteRequest>,
    head_changed: watch::Sender<u64>,
    listener: OnceCell<()>,
}

/// The PostgreSQL store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`). Does not migrate: see [`migrate`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config: Config = url.parse()?;
        let manager = Manager::from_config(
            index_driven(&config),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let (writer, requests) = mpsc::channel(4096);
        let (head_changed, _) = watch::channel(0);
        tokio::spawn(run_writer(config.clone(), requests, head_changed.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                pool,
                writer,
                head_changed,
                listener: OnceCell::new(),
            }),
        })
    }

    /// Connects and applies pending migrations first.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        migrate(url).await?;
        Self::connect(url).await
    }

    /// The read pool (for the tables beside `events`, such as credentials).
    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Starts the LISTEN connection the first time a subscriber needs it.
    async fn ensure_listener(&self) -> Result<(), StoreError> {
        self.inner
            .listener
            .get_or_try_init(|| async {
                let ready =
                    listen(self.inner.config.clone(), self.inner.head_changed.clone()).await?;
                tokio::spawn(ready);
                Ok::<_, StoreError>(())
            })
            .await
            .map(|_| ())
    }
}

/// The connection settings for the writer and the read pool, whose every
/// statement is a keyset or point lookup that must go through an index.
///
/// Prepared statements keep the plan chosen when they were planned; planned
/// on a young, tiny table that plan is a sequential scan, which then grows
/// slower with every append until the next ANALYZE (measured: appends at 8
/// clients fell to 0.24× of a plain INSERT). Ruling sequential scans out for
/// these sessions keeps their cost flat as the log grows.
fn index_driven(config: &Config) -> Config {
    let mut config = config.clone();
    let options = match config.get_options() {
        Some(existing) if !existing.is_empty() => format!("{existing} -c enable_seqscan=off"),
        _ => "-c enable_seqscan=off".to_owned(),
    };
    config.options(&options);
    config
}

/// Applies the PostgreSQL migrations in `schema/postgres/`, one process at
/// a time. Needs a role that may create tables (not the service's role).
pub async fn migrate(url: &str) -> Result<(), StoreError> {
    let config: Config = url.parse()?;
    let mut client = connect_client(&config).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let result = migrations::migrations::runner()
        .run_async(&mut client)
        .await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    result?;
    Ok(())
}

async fn connect_client(config: &Config) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection ended");
        }
    });
    Ok(client)
}

/// Opens the LISTEN connection; returns the task that forwards
/// notifications (and reconnects) once LISTEN is in place.
async fn listen(
    config: Config,
    head_changed: watch::Sender<u64>,
) -> Result<impl std::future::Future<Output = ()>, StoreError> {
    let first = listen_once(&config, head_changed.clone()).await?;
    Ok(async move {
        let mut session = Some(first);
        loop {
            if let Some(done) = session.take() {
                let _ = done.await;
            }
            if head_changed.is_closed() {
                return;
            }
            // The connection dropped: wake everyone (they re-read), back off,
            // listen again.
            head_changed.send_modify(|_| {});
            tokio::time::sleep(Duration::from_millis(500)).await;
            match listen_once(&config, head_changed.clone()).await {
                Ok(next) => session = Some(next),
                Err(e) => tracing::warn!(error = %e, "re-listening failed; retrying"),
            }
        }
    })
}

async fn listen_once(
    config: &Config,
    head_changed: watch::Sender<u64>,
) -> Result<tokio::task::JoinHandle<()>, StoreError> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let forward = tokio::spawn(async move {
        // Keep the client alive as long as the connection is read.
        let _client = client;
        pin_mut!(messages);
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    let position = n.payload().parse::<u64>().unwrap_or(0);
                    head_changed.send_modify(|head| *head = (*head).max(position));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "listen connection failed");
                    break;
                }
            }
        }
    });
    Ok(forward)
}

/// The statements the writer prepares once per connection.
struct WriterStatements {
    /// Opens the batch's transaction and takes the write lock, in one message.
    begin_and_lock: String,
    head: Statement,
    versions: Statement,
    existing: Statement,
    insert: Statement,
}

impl WriterStatements {
    async fn prepare(client: &Client) -> Result<Self, StoreError> {
        Ok(Self {
            begin_and_lock: format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"),
            head: client.prepare(HEAD_SQL).await?,
            versions: client
                .prepare(
                    "SELECT s.id, COALESCE((SELECT max(e.stream_version) FROM events e \
                     WHERE e.stream_id = s.id), 0) FROM unnest($1::text[]) AS s(id)",
                )
                .await?,
            existing: client
                .prepare(&format!(
                    "SELECT {SELECT_COLUMNS} FROM events WHERE event_id = ANY($1::uuid[])"
                ))
                .await?,
            insert: client
                .prepare(&format!(
                    "INSERT INTO events ({INSERT_COLUMNS}) \
                     SELECT p, e, s, v, t, sv, pl::json, md::json, ra, ph, h \
                     FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], \
                                 $6::bigint[], $7::text[], $8::text[], $9::timestamptz[], \
                                 $10::bytea[], $11::bytea[]) \
                          AS u(p, e, s, v, t, sv, pl, md, ra, ph, h)"
                ))
                .await?,
        })
    }
}

const HEAD_SQL: &str =
    "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1";

struct WriterConnection {
    client: Client,
    statements: WriterStatements,
}

/// The writer task: group commit until every sender is gone.
async fn run_writer(
    config: Config,
    mut requests: mpsc::Receiver<WriteRequest>,
    head_changed: watch::Sender<u64>,
) {
    let mut connection: Option<WriterConnection> = None;
    while let Some(first) = requests.recv().await {
        let mut pending = vec![first];
        let mut events: usize = pending[0].streams.iter().map(|s| s.events.len()).sum();
        while events < MAX_EVENTS_PER_APPEND {
            match requests.try_recv() {
                Ok(request) => {
                    events += request
                        .streams
                        .iter()
                        .map(|s| s.events.len())
                        .sum::<usize>();
                    pending.push(request);
                }
                Err(_) => break,
            }
        }
        let appends: Vec<&[StreamAppend]> = pending.iter().map(|r| r.streams.as_slice()).collect();
        let outcome = match connection.as_ref().filter(|c| !c.client.is_closed()) {
            Some(conn) => commit_batch(conn, &appends).await,
            None => match open_writer(&config).await {
                Ok(conn) => {
                    let result = commit_batch(&conn, &appends).await;
                    connection = Some(conn);
                    result
                }
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok((results, head)) => {
                head_changed.send_modify(|h| *h = (*h).max(head));
                for (request, result) in pending.into_iter().zip(results) {
                    let _ = request.reply.send(result);
                }
            }
            Err(e) => {
                let message = e.to_string();
                tracing::error!(error = %message, "postgres batch failed");
                if let Some(conn) = &connection {
                    let _ = conn.client.batch_execute("ROLLBACK").await;
                }
                for request in pending {
                    let _ = request
                        .reply
                        .send(Err(StoreError::Unavailable(message.clone())));
                }
            }
        }
    }
}

async fn open_writer(config: &Config) -> Result<WriterConnection, StoreError> {
    let client = connect_client(&index_driven(config)).await?;
    let statements = WriterStatements::prepare(&client).await?;
    Ok(WriterConnection { client, statements })
}

type BatchResults = (Vec<Result<AppendOutcome, StoreError>>, u64);

async fn commit_batch(
    conn: &WriterConnection,
    appends: &[&[StreamAppend]],
) -> Result<BatchResults, StoreError> {
    let started = std::time::Instant::now();
    let WriterConnection { client, statements } = conn;
    let (streams, ids) = batch::lookups(appends);
    let stream_names: Vec<&str> = streams.iter().map(StreamId::as_str).collect();

    // Round trip 1, pipelined: everything after the lock sees the log as the
    // previous writer left it.
    let version_params: [&(dyn ToSql + Sync); 1] = [&stream_names];
    let existing_params: [&(dyn ToSql + Sync); 1] = [&ids];
    let (_, head_rows, version_rows, existing_rows) = tokio::try_join!(
        client.batch_execute(&statements.begin_and_lock),
        client.query(&statements.head, &[]),
        client.query(&statements.versions, &version_params),
        client.query(&statements.existing, &existing_params),
    )?;

    let mut context = BatchContext {
        head: head_from_rows(&head_rows)?,
        ..BatchContext::default()
    };
    for row in version_rows {
        let stream: String = row.get(0);
        let version: i64 = row.get(1);
        let stream = StreamId::parse(stream).map_err(|e| StoreError::Corrupt {
            position: 0,
            reason: e.to_string(),
        })?;
        context.versions.insert(stream, version as u64);
    }
    for row in &existing_rows {
        let event = row_to_event(row)?;
        context.existing.insert(event.event_id, event);
    }
    let head_before = context.head;
    let plan = batch::plan(context, appends, Utc::now());
    let head = plan.new_head(head_before).position;

    // Round trip 2, pipelined: insert, notify, commit.
    if plan.rows.is_empty() {
        client.batch_execute("COMMIT").await?;
    } else {
        let columns = Columns::of(&plan.rows);
        let insert_params = columns.params();
        let notify_and_commit = format!("SELECT pg_notify('{NOTIFY_CHANNEL}', '{head}'); COMMIT");
        tokio::try_join!(
            client.execute(&statements.insert, &insert_params),
            client.batch_execute(&notify_and_commit),
        )?;
    }
    commit_metrics::committed(appends.len(), &plan, started.elapsed());
    Ok((plan.results, head))
}

/// The rows of a batch as column arrays for `unnest`.
struct Columns<'a> {
    position: Vec<i64>,
    event_id: Vec<Uuid>,
    stream_id: Vec<&'a str>,
    stream_version: Vec<i64>,
    event_type: Vec<&'a str>,
    schema_version: Vec<i64>,
    payload: Vec<&'a str>,
    metadata: Vec<&'a str>,
    recorded_at: Vec<DateTime<Utc>>,
    prev_hash: Vec<&'a [u8]>,
    hash: Vec<&'a [u8]>,
}

impl<'a> Columns<'a> {
    fn of(rows: &'a [RecordedEvent]) -> Self {
        Self {
            position: rows.iter().map(|r| r.position as i64).collect(),
            event_id: rows.iter().map(|r| r.event_id).collect(),
            stream_id: rows.iter().map(|r| r.stream_id.as_str()).collect(),
            stream_version: rows.iter().map(|r| r.stream_version as i64).collect(),
            event_type: rows.iter().map(|r| r.event_type.as_str()).collect(),
            schema_version: rows.iter().map(|r| i64::from(r.schema_version)).collect(),
            payload: rows.iter().map(|r| r.payload.as_str()).collect(),
            metadata: rows.iter().map(|r| r.metadata.as_str()).collect(),
            recorded_at: rows.iter().map(|r| r.recorded_at).collect(),
            prev_hash: rows.iter().map(|r| r.prev_hash.0.as_slice()).collect(),
            hash: rows.iter().map(|r| r.hash.0.as_slice()).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        [
            &self.position,
            &self.event_id,
            &self.stream_id,
            &self.stream_version,
            &self.event_type,
            &self.schema_version,
            &self.payload,
            &self.metadata,
            &self.recorded_at,
            &self.prev_hash,
            &self.hash,
        ]
    }
}

fn head_from_rows(rows: &[Row]) -> Result<Head, StoreError> {
    match rows.first() {
        None => Ok(Head::EMPTY),
        Some(row) => {
            let position = row.get::<_, i64>(0) as u64;
            let hash: &[u8] = row.get(1);
            Ok(Head {
                position,
                hash: Hash::from_slice(hash).map_err(|e| StoreError::Corrupt {
                    position,
                    reason: e.to_string(),
                })?,
                recorded_at: Some(row.get(2)),
            })
        }
    }
}

fn row_to_event(row: &Row) -> Result<RecordedEvent, StoreError> {
    let position = row.try_get::<_, i64>(0)? as u64;
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let schema_version: i64 = row.try_get(5)?;
    Ok(RecordedEvent {
        position,
        event_id: row.try_get(1)?,
        stream_id: StreamId::parse(row.try_get::<_, String>(2)?)
            .map_err(|e| corrupt(e.to_string()))?,
        stream_version: row.try_get::<_, i64>(3)? as u64,
        event_type: EventType::parse(row.try_get::<_, String>(4)?)
            .map_err(|e| corrupt(e.to_string()))?,
        schema_version: u32::try_from(schema_version).map_err(|e| corrupt(e.to_string()))?,
        payload: JsonObject::from_stored(row.try_get(6)?),
        metadata: JsonObject::from_stored(row.try_get(7)?),
        recorded_at: row.try_get(8)?,
        prev_hash: Hash::from_slice(row.try_get(9)?).map_err(|e| corrupt(e.to_string()))?,
        hash: Hash::from_slice(row.try_get(10)?).map_err(|e| corrupt(e.to_string()))?,
    })
}

#[async_trait]
impl EventStore for PgStore {
    async fn append(&self, streams: Vec<StreamAppend>) -> Result<AppendOutcome, StoreError> {
        append::validate(&streams)?;
        writer::submit(&self.inner.writer, streams).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.inner.pool.get().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
                 ORDER BY stream_version LIMIT $3"
            ))
            .await?;
        let rows = client
            .query(
                &stmt,
                &[&stream.as_str(), &(from_version as i64), &(limit as i64)],
            )
            .await?;
        rows.iter().map(row_to_event).collect()
    }

    async fn read_all(
        &self,
        from_position: u64,
        limit: usize,
        filter: &ReadFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.inner.pool.get().await?;
        let categories: Vec<&str> = filter.categories.iter().map(String::as_str).collect();
        let types: Vec<&str> = filter.event_types.iter().map(EventType::as_str).collect();
        let from = from_position as i64;
        let limit = limit as i64;
        let rows = match (categories.is_empty(), types.is_empty()) {
            (true, true) => {
                let stmt = client
                    .prepare_cached(&format!(
                        "SELECT {SELECT_COLUMNS} FROM events WHERE position >= $1 \
                         ORDER BY position LIMIT $2"
                    ))
                    .await?;
                client.query(&stmt, &[&from, &limit]).await?
            }
            _ => {
                let stmt = client
                    .prepare_cached(&format!(
                        "SELECT {SELECT_COLUMNS} FROM events WHERE position >= $1 \
                         AND (cardinality($2::text[]) = 0 OR category = ANY($2)) \
                         AND (cardinality($3::text[]) = 0 OR event_type = ANY($3)) \
                         ORDER BY position LIMIT $4"
                    ))
                    .await?;
                client
                    .query(&stmt, &[&from, &categories, &types, &limit])
                    .await?
            }
        };
        rows.iter().map(row_to_event).collect()
    }

    async fn head(&self) -> Result<Head, StoreError> {
        let client = self.inner.pool.get().await?;
        let stmt = client.prepare_cached(HEAD_SQL).await?;
        let rows = client.query(&stmt, &[]).await?;
        head_from_rows(&rows)
    }

    async fn subscribe(
        &self,
        from_position: u64,
        filter: ReadFilter,
    ) -> Result<Subscription, StoreError> {
        self.ensure_listener().await?;
        Ok(Subscription::spawn(
            self.clone(),
            self.inner.head_changed.subscribe(),
            from_position,
            filter,
            RECHECK,
        ))
    }
}

/// `json` text sent as is in binary COPY (the binary form of `json` is its
/// text).
#[derive(Debug)]
struct RawJson<'a>(&'a str);

impl ToSql for RawJson<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON
    }

    to_sql_checked!();
}

/// An import holding the write lock in a transaction on its own connection
/// (dropping it closes the connection, which rolls back).
struct PgImport {
    client: Client,
    head: Head,
}

#[async_trait]
impl BulkImport for PgStore {
    async fn begin_import(&self) -> Result<Box<dyn ImportSession>, StoreError> {
        let client = connect_client(&self.inner.config).await?;
        client.batch_execute("BEGIN").await?;
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK_KEY])
            .await?;
        let head = head_from_rows(&client.query(HEAD_SQL, &[]).await?)?;
        Ok(Box::new(PgImport { client, head }))
    }
}

#[async_trait]
impl ImportSession for PgImport {
    fn head(&self) -> Head {
        self.head
    }

    async fn stream_versions(&mut self) -> Result<HashMap<String, u64>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT stream_id, max(stream_version) FROM events GROUP BY stream_id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    async fn existing_event_ids(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT event_id FROM events WHERE event_id = ANY($1)",
                &[&ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn write(&mut self, rows: &[RecordedEvent]) -> Result<(), StoreError> {
        let sink = self
            .client
            .copy_in(&format!("COPY events ({INSERT_COLUMNS}) FROM STDIN BINARY"))
            .await?;
        let writer = BinaryCopyInWriter::new(
            sink,
            &[
                Type::INT8,
                Type::UUID,
                Type::TEXT,
                Type::INT8,
                Type::TEXT,
                Type::INT8,
                Type::JSON,
                Type::JSON,
                Type::TIMESTAMPTZ,
                Type::BYTEA,
                Type::BYTEA,
            ],
        );
        pin_mut!(writer);
        for row in rows {
            writer
                .as_mut()
                .write(&[
                    &(row.position as i64),
                    &row.event_id,
                    &row.stream_id.as_str(),
                    &(row.stream_version as i64),
                    &row.event_type.as_str(),
                    &i64::from(row.schema_version),
                    &RawJson(row.payload.as_str()),
                    &RawJson(row.metadata.as_str()),
                    &row.recorded_at,
                    &row.prev_hash.0.as_slice(),
                    &row.hash.0.as_slice(),
                ])
                .await?;
        }
        writer.finish().await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.client
            .query(
                "SELECT pg_notify($1, $2)",
                &[&NOTIFY_CHANNEL, &self.head.position.to_string()],
            )
            .await?;
        self.client.batch_execute("COMMIT").await?;
        Ok(())
    }
}
