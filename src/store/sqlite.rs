//! The embedded default store: one SQLite file (`<data dir>/events.sqlite3`).
//!
//! Why SQLite: the service must run with no database server installed, and
//! an embedded store must still be durable and crash-safe. WAL mode with
//! `synchronous = FULL` makes every acknowledged commit survive a power cut;
//! readers never block the writer.
//!
//! Writes go through one dedicated writer thread per process (group commit):
//! it drains whatever appends queued up while it was busy and commits them in
//! one `BEGIN IMMEDIATE` transaction, decided by [`batch::plan`]. Across
//! processes SQLite's own write lock serializes writers. Reads use a small
//! pool of read connections on the blocking thread pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use tokio::sync::{mpsc, watch};
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
    refinery::embed_migrations!("schema/sqlite");
}

/// File name of the log inside the data directory.
pub const DATABASE_FILE: &str = "events.sqlite3";
/// How long a writer waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a subscriber re-reads when it got no wake-up: only writes by
/// another process reach it this way.
const RECHECK: Duration = Duration::from_millis(500);

const COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
                       schema_version, payload, metadata, recorded_at, prev_hash, hash";

struct Inner {
    path: PathBuf,
    writer: mpsc::Sender<WriteRequest>,
    readers: Mutex<Vec<Connection>>,
    head_changed: watch::Sender<u64>,
}

/// The embedded store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and applies its
    /// migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let migrate_path = path.clone();
        let writer_conn = tokio::task::spawn_blocking(move || {
            let mut conn = open_connection(&migrate_path)?;
            migrations::migrations::runner().run(&mut conn)?;
            Ok::<_, StoreError>(conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;

        let (writer, requests) = mpsc::channel(4096);
        let (head_changed, _) = watch::channel(0);
        let notify = head_changed.clone();
        std::thread::Builder::new()
            .name("portal-ledger-sqlite-writer".into())
            .spawn(move || run_writer(writer_conn, requests, notify))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer,
                readers: Mutex::new(Vec::new()),
                head_changed,
            }),
        })
    }

    /// Path of the SQLite file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a pooled read connection on the blocking thread pool.
    pub(crate) async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().ok().and_then(|mut pool| pool.pop());
            let conn = match pooled {
                Some(conn) => conn,
                None => open_connection(&inner.path)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn row_to_event(row: &Row<'_>) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.get(0)?;
    let position = position as u64;
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let event_id: Vec<u8> = row.get(1)?;
    let event_id = Uuid::from_slice(&event_id).map_err(|e| corrupt(e.to_string()))?;
    let stream_id: String = row.get(2)?;
    let stream_version: i64 = row.get(3)?;
    let event_type: String = row.get(4)?;
    let schema_version: i64 = row.get(5)?;
    let recorded_at: i64 = row.get(8)?;
    let prev_hash: Vec<u8> = row.get(9)?;
    let hash: Vec<u8> = row.get(10)?;
    Ok(RecordedEvent {
        position,
        event_id,
        stream_id: StreamId::parse(stream_id).map_err(|e| corrupt(e.to_string()))?,
        stream_version: stream_version as u64,
        event_type: EventType::parse(event_type).map_err(|e| corrupt(e.to_string()))?,
        schema_version: u32::try_from(schema_version).map_err(|e| corrupt(e.to_string()))?,
        payload: JsonObject::from_stored(row.get(6)?),
        metadata: JsonObject::from_stored(row.get(7)?),
        recorded_at: Utc
            .timestamp_micros(recorded_at)
            .single()
            .ok_or_else(|| corrupt("recorded_at out of range".into()))?,
        prev_hash: Hash::from_slice(&prev_hash).map_err(|e| corrupt(e.to_string()))?,
        hash: Hash::from_slice(&hash).map_err(|e| corrupt(e.to_string()))?,
    })
}

fn read_head(conn: &Connection) -> Result<Head, StoreError> {
    conn.prepare_cached(
        "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1",
    )?
    .query_row([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, Vec<u8>>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })
    .optional()?
    .map(|(position, hash, recorded_at)| {
        let position = position as u64;
        Ok(Head {
            position,
            hash: Hash::from_slice(&hash).map_err(|e| StoreError::Corrupt {
                position,
                reason: e.to_string(),
            })?,
            recorded_at: Utc.timestamp_micros(recorded_at).single(),
        })
    })
    .unwrap_or(Ok(Head::EMPTY))
}

fn stream_version(conn: &Connection, stream: &str) -> Result<u64, StoreError> {
    let version: Option<i64> = conn
        .prepare_cached("SELECT max(stream_version) FROM events WHERE stream_id = ?1")?
        .query_row([stream], |row| row.get(0))?;
    Ok(version.unwrap_or(0) as u64)
}

fn event_by_id(conn: &Connection, id: &Uuid) -> Result<Option<RecordedEvent>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE event_id = ?1"))?;
    let mut rows = stmt.query([id.as_bytes().as_slice()])?;
    match rows.next()? {
        Some(row) => Ok(Some(row_to_event(row)?)),
        None => Ok(None),
    }
}

fn insert_rows(conn: &Connection, rows: &[RecordedEvent]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    for row in rows {
        stmt.execute(params![
            row.position as i64,
            row.event_id.as_bytes().as_slice(),
            row.stream_id.as_str(),
            row.stream_version as i64,
            row.event_type.as_str(),
            i64::from(row.schema_version),
            row.payload.as_str(),
            row.metadata.as_str(),
            row.recorded_at.timestamp_micros(),
            row.prev_hash.0.as_slice(),
            row.hash.0.as_slice(),
        ])?;
    }
    Ok(())
}

/// The writer thread: group commit until every sender is gone.
fn run_writer(
    mut conn: Connection,
    mut requests: mpsc::Receiver<WriteRequest>,
    head_changed: watch::Sender<u64>,
) {
    while let Some(first) = requests.blocking_recv() {
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
        match commit_batch(&mut conn, &appends) {
            Ok((results, head)) => {
                head_changed.send_replace(head);
                for (request, result) in pending.into_iter().zip(results) {
                    let _ = request.reply.send(result);
                }
            }
            Err(e) => {
                let message = e.to_string();
                tracing::error!(error = %message, "embedded store batch failed");
                for request in pending {
                    let _ = request
                        .reply
                        .send(Err(StoreError::Unavailable(message.clone())));
                }
            }
        }
    }
}

type BatchResults = (Vec<Result<AppendOutcome, StoreError>>, u64);

fn commit_batch(
    conn: &mut Connection,
    appends: &[&[StreamAppend]],
) -> Result<BatchResults, StoreError> {
    let started = std::time::Instant::now();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (streams, ids) = batch::lookups(appends);
    let mut context = BatchContext {
        head: read_head(&tx)?,
        ..BatchContext::default()
    };
    for stream in streams {
        let version = stream_version(&tx, stream.as_str())?;
        context.versions.insert(stream, version);
    }
    for id in ids {
        if let Some(event) = event_by_id(&tx, &id)? {
            context.existing.insert(id, event);
        }
    }
    let head_before = context.head;
    let plan = batch::plan(context, appends, Utc::now());
    insert_rows(&tx, &plan.rows)?;
    tx.commit()?;
    commit_metrics::committed(appends.len(), &plan, started.elapsed());
    let head = plan.new_head(head_before).position;
    Ok((plan.results, head))
}

#[async_trait]
impl EventStore for SqliteStore {
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
        let stream = stream.to_string();
        self.with_reader(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE stream_id = ?1 AND stream_version >= ?2 \
                 ORDER BY stream_version LIMIT ?3"
            ))?;
            let mut rows = stmt.query(params![stream, from_version as i64, limit as i64])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(row_to_event(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn read_all(
        &self,
        from_position: u64,
        limit: usize,
        filter: &ReadFilter,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let filter = filter.clone();
        self.with_reader(move |conn| {
            let mut sql = format!("SELECT {COLUMNS} FROM events WHERE position >= ?");
            let mut values: Vec<Value> = vec![Value::Integer(from_position as i64)];
            push_in_list(
                &mut sql,
                &mut values,
                "category",
                filter.categories.iter().map(String::as_str),
            );
            push_in_list(
                &mut sql,
                &mut values,
                "event_type",
                filter.event_types.iter().map(EventType::as_str),
            );
            sql.push_str(" ORDER BY position LIMIT ?");
            values.push(Value::Integer(limit as i64));
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(values))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(row_to_event(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn head(&self) -> Result<Head, StoreError> {
        self.with_reader(read_head).await
    }

    async fn subscribe(
        &self,
        from_position: u64,
        filter: ReadFilter,
    ) -> Result<Subscription, StoreError> {
        Ok(Subscription::spawn(
            self.clone(),
            self.inner.head_changed.subscribe(),
            from_position,
            filter,
            RECHECK,
        ))
    }
}

fn push_in_list<'a>(
    sql: &mut String,
    values: &mut Vec<Value>,
    column: &str,
    items: impl Iterator<Item = &'a str>,
) {
    let items: Vec<Value> = items.map(|s| Value::Text(s.to_owned())).collect();
    if items.is_empty() {
        return;
    }
    let marks = vec!["?"; items.len()].join(", ");
    sql.push_str(&format!(" AND {column} IN ({marks})"));
    values.extend(items);
}

/// An import holding SQLite's write lock on its own connection.
struct SqliteImport {
    conn: Option<Connection>,
    head: Head,
    /// Wakes this process's subscribers once the import is committed.
    head_changed: watch::Sender<u64>,
}

impl SqliteImport {
    async fn run<T, F>(&mut self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Unavailable("import connection lost".into()))?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&conn);
            (conn, result)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.conn = Some(conn);
        result
    }
}

#[async_trait]
impl BulkImport for SqliteStore {
    async fn begin_import(&self) -> Result<Box<dyn ImportSession>, StoreError> {
        let path = self.inner.path.clone();
        let (conn, head) = tokio::task::spawn_blocking(move || {
            let conn = open_connection(&path)?;
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let head = read_head(&conn)?;
            Ok::<_, StoreError>((conn, head))
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
        Ok(Box::new(SqliteImport {
            conn: Some(conn),
            head,
            head_changed: self.inner.head_changed.clone(),
        }))
    }
}

#[async_trait]
impl ImportSession for SqliteImport {
    fn head(&self) -> Head {
        self.head
    }

    async fn stream_versions(&mut self) -> Result<HashMap<String, u64>, StoreError> {
        self.run(|conn| {
            let mut stmt = conn
                .prepare("SELECT stream_id, max(stream_version) FROM events GROUP BY stream_id")?;
            let mut rows = stmt.query([])?;
            let mut out = HashMap::new();
            while let Some(row) = rows.next()? {
                out.insert(row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64);
            }
            Ok(out)
        })
        .await
    }

    async fn existing_event_ids(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        let ids = ids.to_vec();
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?;
            let mut found = Vec::new();
            for id in ids {
                if stmt.exists([id.as_bytes().as_slice()])? {
                    found.push(id);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn write(&mut self, rows: &[RecordedEvent]) -> Result<(), StoreError> {
        let rows = rows.to_vec();
        self.run(move |conn| insert_rows(conn, &rows)).await
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let head = self
            .run(|conn| {
                conn.execute_batch("COMMIT")?;
                read_head(conn)
            })
            .await?;
        self.head_changed.send_replace(head.position);
        Ok(())
    }
}
