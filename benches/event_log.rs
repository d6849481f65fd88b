//! What the event log's guarantees cost on PostgreSQL, measured against plain
//! PostgreSQL doing the same work without them.
//!
//! Three workloads, each timed next to a baseline:
//!
//! 1. **Appends**: one event per append to a new stream (`user-<uuid>`,
//!    `ExpectedVersion::NoStream`, a ~300-byte payload and small metadata)
//!    from 1, 8 and 32 concurrent tokio tasks sharing one [`PgStore`] (whose
//!    writer does group commit), for `BENCH_SECONDS` (default 5) each.
//!    Baseline: each client on its own connection runs a prepared one-row
//!    `INSERT` in autocommit into `baseline_events`, a table with the same
//!    columns, constraints and indexes as `events` (built with
//!    `LIKE events INCLUDING ALL`, plus an identity `position`) but no
//!    triggers and no hash chain (the hashes are random bytes).
//! 2. **Import** of `BENCH_EVENTS` (default 1,000,000) legacy NDJSON lines
//!    with `import_ndjson` into an empty log. Baseline: a binary `COPY` of
//!    exactly the rows the import stores (same positions, ids and hashes,
//!    computed beforehand) into `baseline_copy`, a trigger-less copy of
//!    `events`.
//! 3. **Reading** the imported log: `read_all` page by page (through
//!    `read_pages`, which prefetches the next page) against
//!    `COPY (SELECT <same columns> … ORDER BY position) TO STDOUT`, and
//!    `verify_store` against that `read_all`.
//!
//! Baselines run in the same process, on the same server, interleaved with
//! the runs they are compared to, and only the ratios are meant to be
//! quoted: absolute figures move by 2–5× with whatever else the machine is
//! doing (a compiler running beside the benchmark is enough). For the same
//! reason nothing here asserts on timing; targets are printed beside the
//! ratios.
//!
//! Every run starts from an empty table of its own: the bench creates a fresh
//! database `portal_ledger_bench_<random>` (dropped `WITH (FORCE)` at the
//! end) and, inside it, one schema per run (`ours_c8`, `baseline_c8`,
//! `import_ours`, …). `events` refuses `TRUNCATE`, so fresh schemas rather
//! than truncation keep the table sizes comparable. A `CHECKPOINT` precedes
//! every timed run so that no run pays for the previous one's dirty pages.
//!
//! Environment: `BENCH_DATABASE_URL` (an admin URL in `postgres://` form,
//! default `postgres://postgres@127.0.0.1:5432/postgres`), `BENCH_SECONDS`,
//! `BENCH_EVENTS`. The import writes two files of roughly 500 bytes per event
//! to a temporary directory (about 1 GB at the default size).

use std::error::Error;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use futures_util::{pin_mut, SinkExt, StreamExt};
use portal_ledger::chain::HashedFields;
use portal_ledger::event::{
    to_log_time, EventType, Hash, JsonObject, NewEvent, RecordedEvent, StreamId,
};
use portal_ledger::integrity::verify_store;
use portal_ledger::store::pages::{read_pages, PAGE_SIZE};
use portal_ledger::store::postgres::{migrate, PgStore};
use portal_ledger::store::{EventStore, ExpectedVersion, ReadFilter, SharedStore, StreamAppend};
use portal_ledger::transfer::import::import_ndjson;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const CONCURRENCY: [usize; 3] = [1, 8, 32];
/// The columns the store writes and reads, in its order.
const COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
     schema_version, payload, metadata, recorded_at, prev_hash, hash";
/// The columns `read_all` selects (json as text), for the `COPY TO` baseline.
const READ_COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
     schema_version, payload::text, metadata::text, recorded_at, prev_hash, hash";

const TARGET_APPEND_32: f64 = 1.0;
const TARGET_IMPORT: f64 = 0.5;
const TARGET_READ: f64 = 0.5;
const TARGET_VERIFY: f64 = 0.5;

#[tokio::main]
async fn main() -> BenchResult<()> {
    let settings = Settings::from_env()?;
    let db = BenchDatabase::create(&settings.admin_url).await?;
    let outcome = run(&settings, &db).await;
    let dropped = db.drop_now().await;
    let report = outcome?;
    dropped?;
    report.print_summary(&settings);
    Ok(())
}

/// All three workloads, in order, each next to its baseline.
async fn run(settings: &Settings, db: &BenchDatabase) -> BenchResult<Report> {
    let admin = db.connect(None).await?;
    let server = admin
        .query_one(
            "SELECT current_setting('server_version'), current_setting('fsync'), \
             current_setting('synchronous_commit'), current_setting('shared_buffers')",
            &[],
        )
        .await?;
    let server_version: String = server.get(0);
    print_header(settings, &server_version);
    println!(
        "fsync={}, synchronous_commit={}, shared_buffers={} (group commit gains more where fsync is slow)",
        server.get::<_, String>(1),
        server.get::<_, String>(2),
        server.get::<_, String>(3)
    );
    // `template.events` is what the baseline tables are cloned from, so they
    // follow the real schema whatever its migrations become.
    admin.batch_execute("CREATE SCHEMA template").await?;
    migrate(&db.url(Some("template"))).await?;

    let appends = run_appends(settings, db, &admin).await?;
    let dir = tempfile::tempdir()?;
    eprintln!("generating {} events …", thousands(settings.events));
    let log = generate_log(dir.path(), settings.events)?;
    let import = run_import(db, &admin, &log).await?;
    let read = run_reads(&admin, &import.store).await?;
    Ok(Report {
        server_version,
        appends,
        import: import.figures,
        read,
    })
}

// ---------------------------------------------------------------------------
// Settings and the throw-away database

struct Settings {
    admin_url: String,
    run_for: Duration,
    events: u64,
}

impl Settings {
    fn from_env() -> BenchResult<Self> {
        let admin_url =
            std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let seconds: f64 = env_or("BENCH_SECONDS", "5")?.parse()?;
        let events: u64 = env_or("BENCH_EVENTS", "1000000")?.parse()?;
        if events == 0 {
            return Err("BENCH_EVENTS must be at least 1".into());
        }
        Ok(Self {
            admin_url,
            run_for: Duration::from_secs_f64(seconds),
            events,
        })
    }
}

fn env_or(name: &str, default: &str) -> BenchResult<String> {
    match std::env::var(name) {
        Ok(value) => Ok(value),
        Err(std::env::VarError::NotPresent) => Ok(default.to_owned()),
        Err(e) => Err(format!("{name}: {e}").into()),
    }
}

/// A database created for this run; dropped by [`BenchDatabase::drop_now`],
/// or, if the bench panics first, by `Drop`.
struct BenchDatabase {
    admin_url: String,
    name: String,
    dropped: bool,
}

impl BenchDatabase {
    async fn create(admin_url: &str) -> BenchResult<Self> {
        let name = format!("portal_ledger_bench_{}", Uuid::new_v4().simple());
        let admin = connect(admin_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            dropped: false,
        })
    }

    /// The URL of this database, with `search_path` set to `schema` if given.
    fn url(&self, schema: Option<&str>) -> String {
        database_url(&self.admin_url, &self.name, schema)
    }

    async fn connect(&self, schema: Option<&str>) -> BenchResult<Client> {
        connect(&self.url(schema)).await
    }

    async fn drop_now(mut self) -> BenchResult<()> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // We may be inside the runtime: drop from a runtime of our own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_database(&url, &name))
        })
        .join();
    }
}

async fn drop_database(admin_url: &str, name: &str) -> BenchResult<()> {
    let admin = connect(admin_url).await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// `url` pointing at database `dbname`, keeping its other parameters.
fn database_url(url: &str, dbname: &str, schema: Option<&str>) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("options="))
        .map(str::to_owned)
        .collect();
    if let Some(schema) = schema {
        params.push(format!("options=-c%20search_path%3D{schema}"));
    }
    let mut out = format!("{scheme}://{authority}/{dbname}");
    if !params.is_empty() {
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

async fn connect(url: &str) -> BenchResult<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A fresh, migrated event log in its own schema.
async fn open_store(db: &BenchDatabase, admin: &Client, schema: &str) -> BenchResult<PgStore> {
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await?;
    Ok(PgStore::open(&db.url(Some(schema))).await?)
}

/// How a baseline table gets its positions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Positions {
    /// Given by the rows (COPY of precomputed rows).
    Supplied,
    /// `GENERATED ALWAYS AS IDENTITY` (the INSERT baseline).
    Identity,
}

/// `schema.table`: the columns, constraints and indexes of `events`, no
/// triggers.
async fn create_baseline_table(
    admin: &Client,
    schema: &str,
    table: &str,
    positions: Positions,
) -> BenchResult<()> {
    let mut sql = format!(
        "CREATE SCHEMA {schema}; \
         CREATE TABLE {schema}.{table} (LIKE template.events INCLUDING ALL);"
    );
    if positions == Positions::Identity {
        sql.push_str(&format!(
            "ALTER TABLE {schema}.{table} ALTER COLUMN position ADD GENERATED ALWAYS AS IDENTITY;"
        ));
    }
    admin.batch_execute(&sql).await?;
    Ok(())
}

/// Flushes dirty buffers before a timed run (best effort: needs superuser
/// or `pg_checkpoint`).
async fn checkpoint(admin: &Client) {
    if let Err(e) = admin.batch_execute("CHECKPOINT").await {
        eprintln!("note: CHECKPOINT failed ({e}); runs may share dirty buffers");
    }
}

// ---------------------------------------------------------------------------
// The event every workload writes

/// A `user.registered` event for `user`: ~320 bytes of payload, ~70 of
/// metadata, canonicalized as any caller of the store must.
fn user_registered(user: Uuid) -> BenchResult<(StreamId, NewEvent)> {
    let local = &user.simple().to_string()[..12];
    let payload = serde_json::json!({
        "user_id": user,
        "email": format!("{local}@partner.example.com"),
        "display_name": format!("User {local}"),
        "organisation": {
            "id": Uuid::new_v4(),
            "name": "Example Partner Ltd",
            "tier": "gold",
        },
        "roles": ["partner.viewer", "partner.orders"],
        "locale": "en-GB",
        "source": "partner-portal",
    });
    let metadata = serde_json::json!({
        "correlation_id": Uuid::new_v4(),
        "actor": "bench",
    });
    let event = NewEvent::new(
        EventType::parse("user.registered")?,
        JsonObject::from_value("payload", &payload)?,
    )
    .with_metadata(JsonObject::from_value("metadata", &metadata)?);
    Ok((StreamId::parse(format!("user-{user}"))?, event))
}

/// 32 random bytes, standing in for a hash in the baseline.
fn random_hash() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    bytes
}

// ---------------------------------------------------------------------------
// Figures

/// Throughput and latency of one timed run.
#[derive(Clone, Debug)]
struct Figures {
    events: u64,
    elapsed: Duration,
    p50: Option<Duration>,
    p99: Option<Duration>,
}

impl Figures {
    fn throughput(events: u64, elapsed: Duration) -> Self {
        Self {
            events,
            elapsed,
            p50: None,
            p99: None,
        }
    }

    fn with_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        Self {
            events: latencies.len() as u64,
            elapsed,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
        }
    }

    fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// `self`'s rate over `other`'s.
    fn ratio_to(&self, other: &Figures) -> f64 {
        self.rate() / other.rate().max(f64::EPSILON)
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// Every task's latencies, or the first error.
async fn gather<E>(tasks: Vec<JoinHandle<Result<Vec<Duration>, E>>>) -> BenchResult<Vec<Duration>>
where
    E: Into<Box<dyn Error + Send + Sync>>,
{
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?.map_err(Into::into)?);
    }
    Ok(all)
}

// ---------------------------------------------------------------------------
// 1. Appends

struct AppendRow {
    clients: usize,
    baseline: Figures,
    ours: Figures,
}

async fn run_appends(
    settings: &Settings,
    db: &BenchDatabase,
    admin: &Client,
) -> BenchResult<Vec<AppendRow>> {
    println!(
        "\n## appends: one event to a new stream per append, {:.1} s per run",
        settings.run_for.as_secs_f64()
    );
    println!(
        "{:>7} | {:>10} {:>8} {:>8} | {:>10} {:>8} {:>8} | {:>9}",
        "clients", "base ev/s", "p50 ms", "p99 ms", "ours ev/s", "p50 ms", "p99 ms", "ours/base"
    );
    let mut rows = Vec::new();
    for clients in CONCURRENCY {
        eprintln!("appends, {clients} clients: baseline …");
        let baseline = append_baseline(db, admin, clients, settings.run_for).await?;
        eprintln!("appends, {clients} clients: portal-ledger …");
        let ours = append_ours(db, admin, clients, settings.run_for).await?;
        let row = AppendRow {
            clients,
            baseline,
            ours,
        };
        print_append_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// `clients` tasks appending through one shared store until the deadline.
async fn append_ours(
    db: &BenchDatabase,
    admin: &Client,
    clients: usize,
    run_for: Duration,
) -> BenchResult<Figures> {
    let store = open_store(db, admin, &format!("ours_c{clients}")).await?;
    // The writer connects on the first append: keep that out of the timing.
    append_new_user(&store).await?;
    checkpoint(admin).await;
    let start = Instant::now();
    let deadline = start + run_for;
    let tasks = (0..clients)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    latencies.push(append_new_user(&store).await?);
                }
                Ok::<_, Box<dyn Error + Send + Sync>>(latencies)
            })
        })
        .collect();
    let latencies = gather(tasks).await?;
    Ok(Figures::with_latencies(latencies, start.elapsed()))
}

/// One append of one event to a new stream; returns the append's latency.
async fn append_new_user(store: &PgStore) -> BenchResult<Duration> {
    let (stream, event) = user_registered(Uuid::new_v4())?;
    let append = StreamAppend::new(stream, ExpectedVersion::NoStream, vec![event]);
    let sent = Instant::now();
    store.append(vec![append]).await?;
    Ok(sent.elapsed())
}

/// `clients` connections each inserting one row per transaction.
async fn append_baseline(
    db: &BenchDatabase,
    admin: &Client,
    clients: usize,
    run_for: Duration,
) -> BenchResult<Figures> {
    let schema = format!("baseline_c{clients}");
    create_baseline_table(admin, &schema, "baseline_events", Positions::Identity).await?;
    let sql = format!(
        "INSERT INTO {schema}.baseline_events (event_id, stream_id, stream_version, event_type, \
         schema_version, payload, metadata, recorded_at, prev_hash, hash) \
         VALUES ($1, $2, 1, $3, $4, $5::text::json, $6::text::json, $7, $8, $9)"
    );
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        let client = db.connect(None).await?;
        let insert = client.prepare(&sql).await?;
        connections.push((client, insert));
    }
    checkpoint(admin).await;
    let start = Instant::now();
    let deadline = start + run_for;
    let tasks = connections
        .into_iter()
        .map(|(client, insert)| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let (stream, event) = user_registered(Uuid::new_v4())?;
                    let (prev_hash, hash) = (random_hash(), random_hash());
                    let sent = Instant::now();
                    client
                        .execute(
                            &insert,
                            &[
                                &event.event_id,
                                &stream.as_str(),
                                &event.event_type.as_str(),
                                &i64::from(event.schema_version),
                                &event.payload.as_str(),
                                &event.metadata.as_str(),
                                &to_log_time(Utc::now()),
                                &prev_hash,
                                &hash,
                            ],
                        )
                        .await?;
                    latencies.push(sent.elapsed());
                }
                Ok::<_, Box<dyn Error + Send + Sync>>(latencies)
            })
        })
        .collect();
    let latencies = gather(tasks).await?;
    Ok(Figures::with_latencies(latencies, start.elapsed()))
}

// ---------------------------------------------------------------------------
// 2. Import

/// The same history twice: legacy NDJSON for `import_ndjson`, and the rows
/// the import will store (numbered and hashed) as a binary COPY file.
struct GeneratedLog {
    ndjson: PathBuf,
    copy: PathBuf,
    events: u64,
    last_hash: Hash,
}

/// A legacy line: no position, version or hashes; the import assigns them.
/// The event id is given so that the baseline can store the very same rows.
#[derive(Serialize)]
struct LegacyLine<'a> {
    event_id: Uuid,
    stream_id: &'a str,
    event_type: &'a str,
    payload: &'a JsonObject,
    metadata: &'a JsonObject,
    recorded_at: String,
}

/// Writes `events` events over `events / 5` streams (interleaved, five
/// events each), one millisecond apart.
fn generate_log(dir: &Path, events: u64) -> BenchResult<GeneratedLog> {
    let ndjson = dir.join("legacy.ndjson");
    let copy = dir.join("rows.pgcopy");
    let mut lines = BufWriter::new(File::create(&ndjson)?);
    let mut rows = BufWriter::new(File::create(&copy)?);
    rows.write_all(PGCOPY_HEADER)?;

    let streams = (events / 5).max(1);
    let users: u128 = Uuid::new_v4().as_u128() & !u128::from(u64::MAX);
    let start = to_log_time(Utc::now()) - chrono::Duration::milliseconds(events as i64 + 1000);
    let mut prev_hash = Hash::ZERO;
    for i in 0..events {
        let user = Uuid::from_u128(users | u128::from(i % streams));
        let (stream_id, event) = user_registered(user)?;
        let mut row = RecordedEvent {
            position: i + 1,
            event_id: event.event_id,
            stream_id,
            stream_version: i / streams + 1,
            event_type: event.event_type,
            schema_version: event.schema_version,
            payload: event.payload,
            metadata: event.metadata,
            recorded_at: start + chrono::Duration::milliseconds(i as i64),
            prev_hash,
            hash: Hash::ZERO,
        };
        row.hash = HashedFields::of(&row).chained_hash(&prev_hash);
        prev_hash = row.hash;
        write_legacy_line(&mut lines, &row)?;
        write_copy_row(&mut rows, &row)?;
    }
    rows.write_all(&(-1i16).to_be_bytes())?;
    lines.flush()?;
    rows.flush()?;
    Ok(GeneratedLog {
        ndjson,
        copy,
        events,
        last_hash: prev_hash,
    })
}

fn write_legacy_line(out: &mut impl Write, row: &RecordedEvent) -> BenchResult<()> {
    let line = LegacyLine {
        event_id: row.event_id,
        stream_id: row.stream_id.as_str(),
        event_type: row.event_type.as_str(),
        payload: &row.payload,
        metadata: &row.metadata,
        recorded_at: row.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Binary COPY signature, flags and header extension length.
const PGCOPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One tuple in `COLUMNS` order, in binary COPY format.
fn write_copy_row(out: &mut impl Write, row: &RecordedEvent) -> std::io::Result<()> {
    let recorded_at = row.recorded_at.timestamp_micros() - PG_EPOCH_MICROS;
    let fields: [&[u8]; 11] = [
        &(row.position as i64).to_be_bytes(),
        row.event_id.as_bytes(),
        row.stream_id.as_str().as_bytes(),
        &(row.stream_version as i64).to_be_bytes(),
        row.event_type.as_str().as_bytes(),
        &i64::from(row.schema_version).to_be_bytes(),
        // The binary form of `json` is its text.
        row.payload.as_str().as_bytes(),
        row.metadata.as_str().as_bytes(),
        &recorded_at.to_be_bytes(),
        &row.prev_hash.0,
        &row.hash.0,
    ];
    out.write_all(&(fields.len() as i16).to_be_bytes())?;
    for field in fields {
        out.write_all(&(field.len() as i32).to_be_bytes())?;
        out.write_all(field)?;
    }
    Ok(())
}

struct ImportOutcome {
    figures: ImportFigures,
    store: PgStore,
}

struct ImportFigures {
    baseline: Figures,
    ours: Figures,
    same_rows: bool,
}

async fn run_import(
    db: &BenchDatabase,
    admin: &Client,
    log: &GeneratedLog,
) -> BenchResult<ImportOutcome> {
    eprintln!("import: binary COPY baseline …");
    let baseline = copy_baseline(db, admin, log).await?;
    eprintln!("import: import_ndjson …");
    let store = open_store(db, admin, "import_ours").await?;
    checkpoint(admin).await;
    let start = Instant::now();
    let input = BufReader::with_capacity(1 << 20, File::open(&log.ndjson)?);
    let imported = import_ndjson(&store, input, |_| {}).await?;
    let ours = Figures::throughput(imported.events, start.elapsed());
    let same_rows = imported.events == log.events && store.head().await?.hash == log.last_hash;

    println!(
        "\n## import of {} legacy NDJSON events into an empty log",
        thousands(log.events)
    );
    println!(
        "binary COPY {:>12} ev/s ({:.2} s)",
        thousands(baseline.rate() as u64),
        baseline.elapsed.as_secs_f64()
    );
    println!(
        "import      {:>12} ev/s ({:.2} s)   {}",
        thousands(ours.rate() as u64),
        ours.elapsed.as_secs_f64(),
        versus(ours.ratio_to(&baseline), Some(TARGET_IMPORT))
    );
    if !same_rows {
        println!("WARNING: the imported head differs from the generated one; the baseline stored other rows");
    }
    Ok(ImportOutcome {
        figures: ImportFigures {
            baseline,
            ours,
            same_rows,
        },
        store,
    })
}

/// Streams the precomputed binary COPY file into a trigger-less `events`.
async fn copy_baseline(
    db: &BenchDatabase,
    admin: &Client,
    log: &GeneratedLog,
) -> BenchResult<Figures> {
    create_baseline_table(
        admin,
        "import_baseline",
        "baseline_copy",
        Positions::Supplied,
    )
    .await?;
    let client = db.connect(None).await?;
    checkpoint(admin).await;
    let start = Instant::now();
    let sink = client
        .copy_in::<_, Bytes>(&format!(
            "COPY import_baseline.baseline_copy ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    pin_mut!(sink);
    let mut file = File::open(&log.copy)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        sink.send(Bytes::copy_from_slice(&buffer[..n])).await?;
    }
    let rows = sink.finish().await?;
    Ok(Figures::throughput(rows, start.elapsed()))
}

// ---------------------------------------------------------------------------
// 3. Reading and verifying

struct ReadFigures {
    copy_out: Figures,
    read_all: Figures,
    verify: Figures,
}

async fn run_reads(admin: &Client, store: &PgStore) -> BenchResult<ReadFigures> {
    // A log at rest: vacuumed and analyzed, hint bits set and pages cached
    // by one untimed pass, so that neither contender pays for the import;
    // and the store's read connection open with its statement prepared, as
    // `COPY TO`'s connection is.
    admin
        .batch_execute("VACUUM (ANALYZE) import_ours.events")
        .await?;
    copy_out(admin).await?;
    store.read_all(1, 1, &ReadFilter::all()).await?;
    let store: SharedStore = Arc::new(store.clone());

    eprintln!("read: COPY TO baseline …");
    let copy_out = copy_out(admin).await?;
    eprintln!("read: read_all …");
    let read_all = read_all(store.clone()).await?;
    eprintln!("read: verify_store …");
    let verify = verify(store).await?;

    println!(
        "\n## reading the log from position 1 (read_all pages of {PAGE_SIZE}, one page ahead)"
    );
    println!(
        "COPY TO     {:>12} ev/s ({:.2} s)",
        thousands(copy_out.rate() as u64),
        copy_out.elapsed.as_secs_f64()
    );
    println!(
        "read_all    {:>12} ev/s ({:.2} s)   {}",
        thousands(read_all.rate() as u64),
        read_all.elapsed.as_secs_f64(),
        versus(read_all.ratio_to(&copy_out), Some(TARGET_READ))
    );
    println!(
        "verify      {:>12} ev/s ({:.2} s)   {} of read_all",
        thousands(verify.rate() as u64),
        verify.elapsed.as_secs_f64(),
        versus(verify.ratio_to(&read_all), Some(TARGET_VERIFY))
    );
    Ok(ReadFigures {
        copy_out,
        read_all,
        verify,
    })
}

/// `COPY (SELECT <read_all's columns> …) TO STDOUT` in binary, consumed and
/// counted (binary, like the rows `read_all` receives).
async fn copy_out(admin: &Client) -> BenchResult<Figures> {
    let start = Instant::now();
    let stream = admin
        .copy_out(&format!(
            "COPY (SELECT {READ_COLUMNS} FROM import_ours.events ORDER BY position) \
             TO STDOUT (FORMAT binary)"
        ))
        .await?;
    pin_mut!(stream);
    let mut bytes = 0usize;
    while let Some(chunk) = stream.next().await {
        bytes += chunk?.len();
    }
    let elapsed = start.elapsed();
    let events = admin
        .query_one("SELECT count(*) FROM import_ours.events", &[])
        .await?
        .get::<_, i64>(0);
    if bytes == 0 && events > 0 {
        return Err("COPY TO returned nothing".into());
    }
    Ok(Figures::throughput(events as u64, elapsed))
}

async fn read_all(store: SharedStore) -> BenchResult<Figures> {
    let start = Instant::now();
    let mut pages = read_pages(store, 1, ReadFilter::all());
    let mut events = 0u64;
    while let Some(page) = pages.recv().await {
        events += page?.len() as u64;
    }
    Ok(Figures::throughput(events, start.elapsed()))
}

async fn verify(store: SharedStore) -> BenchResult<Figures> {
    let start = Instant::now();
    let verified = verify_store(store, None, |_| {}).await?;
    Ok(Figures::throughput(verified.events, start.elapsed()))
}

// ---------------------------------------------------------------------------
// Printing

struct Report {
    server_version: String,
    appends: Vec<AppendRow>,
    import: ImportFigures,
    read: ReadFigures,
}

fn print_header(settings: &Settings, server_version: &str) {
    let sample = user_registered(Uuid::new_v4()).map(|(_, e)| (e.payload.len(), e.metadata.len()));
    let (payload, metadata) = sample.unwrap_or_default();
    println!("# portal-ledger event_log benchmark");
    println!(
        "PostgreSQL {server_version}, {} cores, BENCH_SECONDS={}, BENCH_EVENTS={}, \
         payload {payload} B, metadata {metadata} B",
        cores(),
        settings.run_for.as_secs_f64(),
        settings.events
    );
    println!("ratios compare runs made in this process on this server; absolute figures are not portable");
}

fn print_append_row(row: &AppendRow) {
    let target = (row.clients == 32).then_some(TARGET_APPEND_32);
    println!(
        "{:>7} | {:>10} {:>8} {:>8} | {:>10} {:>8} {:>8} | {}",
        row.clients,
        thousands(row.baseline.rate() as u64),
        millis(row.baseline.p50),
        millis(row.baseline.p99),
        thousands(row.ours.rate() as u64),
        millis(row.ours.p50),
        millis(row.ours.p99),
        versus(row.ours.ratio_to(&row.baseline), target)
    );
}

impl Report {
    /// A Markdown table to paste into the README.
    fn print_summary(&self, settings: &Settings) {
        println!("\n## summary (paste into README)\n");
        println!(
            "PostgreSQL {}, {} cores, {} s per append run, {} events imported, {}. \
             Baselines ran in the same process, interleaved; quote the ratios.\n",
            self.server_version,
            cores(),
            settings.run_for.as_secs_f64(),
            thousands(settings.events),
            Utc::now().format("%Y-%m-%d")
        );
        println!("| workload | portal-ledger | baseline | ratio | target |");
        println!("|---|---|---|---|---|");
        for row in &self.appends {
            let target = (row.clients == 32).then_some(TARGET_APPEND_32);
            summary_line(
                &format!(
                    "append, {} client{}",
                    row.clients,
                    if row.clients == 1 { "" } else { "s" }
                ),
                &with_latency(&row.ours),
                &format!("INSERT: {}", with_latency(&row.baseline)),
                row.ours.ratio_to(&row.baseline),
                target,
            );
        }
        let import = &self.import;
        summary_line(
            "import (legacy NDJSON)",
            &rate(&import.ours),
            &format!("binary COPY: {}", rate(&import.baseline)),
            import.ours.ratio_to(&import.baseline),
            Some(TARGET_IMPORT),
        );
        let read = &self.read;
        summary_line(
            "read_all",
            &rate(&read.read_all),
            &format!("COPY TO: {}", rate(&read.copy_out)),
            read.read_all.ratio_to(&read.copy_out),
            Some(TARGET_READ),
        );
        summary_line(
            "verify",
            &rate(&read.verify),
            &format!("read_all: {}", rate(&read.read_all)),
            read.verify.ratio_to(&read.read_all),
            Some(TARGET_VERIFY),
        );
        if !import.same_rows {
            println!("\n(the import baseline stored different rows than the import; see above)");
        }
    }
}

fn summary_line(workload: &str, ours: &str, baseline: &str, ratio: f64, target: Option<f64>) {
    let target = target.map_or("–".to_owned(), |t| {
        let mark = if ratio >= t { "met" } else { "not met" };
        format!("≥ {t:.1}× ({mark})")
    });
    println!("| {workload} | {ours} | {baseline} | {ratio:.2}× | {target} |");
}

fn rate(figures: &Figures) -> String {
    format!("{} ev/s", thousands(figures.rate() as u64))
}

fn with_latency(figures: &Figures) -> String {
    format!(
        "{}, p50 {} ms, p99 {} ms",
        rate(figures),
        millis(figures.p50),
        millis(figures.p99)
    )
}

/// `0.83×`, with the target and whether it is met when there is one.
fn versus(ratio: f64, target: Option<f64>) -> String {
    match target {
        None => format!("{ratio:.2}×"),
        Some(t) if ratio >= t => format!("{ratio:.2}× (target ≥ {t:.1}×: met)"),
        Some(t) => format!("{ratio:.2}× (target ≥ {t:.1}×: NOT met)"),
    }
}

fn millis(d: Option<Duration>) -> String {
    d.map_or("–".to_owned(), |d| {
        format!("{:.2}", d.as_secs_f64() * 1e3)
    })
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
