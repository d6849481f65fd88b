//! How fast a complete rebuild is, against the floor PostgreSQL itself sets.
//!
//! Generates `REBUILD_EVENTS` events (default 200,000) with the portal
//! generator (seed 42), imports them into a fresh database, then times:
//!
//! - **rebuild**: `Projections::rebuild_live` of every projection, from an
//!   empty read side (what `portal-ledger rebuild` does: one read of the log
//!   for all projectors, copies filled and swapped in);
//! - **baseline**, in the same process and database: the final rows of every
//!   projection table (copied out beforehand, untimed) loaded with `COPY`
//!   into bare tables, then their keys and secondary indexes created — the
//!   fastest any rebuild could write the same rows.
//!
//! Printed: both times, the rebuild's speed as a fraction of the baseline's
//! (target ≥ 0.5×), events per second, and the time a 10,000,000-event portal
//! would take at that rate (target < 10 minutes). Nothing asserts on time.
//! `BENCH_DATABASE_URL` is an admin URL (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the database is dropped
//! afterwards.

// The service's allocator (see src/main.rs): the rebuild measured here runs
// in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::error::Error;
use std::io::Cursor;
use std::time::Instant;

use bytes::Bytes;
use futures_util::{pin_mut, SinkExt, TryStreamExt};
use portal_ledger::backend::{open_projections, Backend, Migrations, StoreLocation};
use portal_ledger::generate::{generate, Scale};
use portal_ledger::projection::runner::{Projections, RebuildOptions};
use tokio_postgres::{Client, NoTls};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn connect(url: &str) -> BenchResult<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// One projection table: its rows (binary COPY), keys and indexes.
struct TableImage {
    name: String,
    rows: Vec<Bytes>,
    keys: Vec<(String, String)>,
    indexes: Vec<String>,
}

async fn image(pg: &Client, table: &str) -> BenchResult<TableImage> {
    let stream = pg
        .copy_out(&format!("COPY {table} TO STDOUT (FORMAT binary)"))
        .await?;
    pin_mut!(stream);
    let mut rows = Vec::new();
    while let Some(chunk) = stream.try_next().await? {
        rows.push(chunk);
    }
    let keys = pg
        .query(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = $1::text::regclass AND contype IN ('p', 'u')",
            &[&table],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let indexes = pg
        .query(
            "SELECT pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indrelid = $1::text::regclass \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
            &[&table],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(TableImage {
        name: table.to_owned(),
        rows,
        keys,
        indexes,
    })
}

/// The baseline: bare tables loaded with COPY, then keys and indexes.
async fn baseline(pg: &Client, images: &[TableImage]) -> BenchResult<f64> {
    let started = Instant::now();
    for image in images {
        let bare = format!("{}__bare", image.name);
        pg.batch_execute(&format!(
            "DROP TABLE IF EXISTS {bare}; CREATE TABLE {bare} (LIKE {} INCLUDING DEFAULTS)",
            image.name
        ))
        .await?;
        let sink = pg
            .copy_in(&format!("COPY {bare} FROM STDIN (FORMAT binary)"))
            .await?;
        pin_mut!(sink);
        for chunk in &image.rows {
            sink.send(chunk.clone()).await?;
        }
        sink.finish().await?;
        for (name, definition) in &image.keys {
            pg.batch_execute(&format!(
                "ALTER TABLE {bare} ADD CONSTRAINT {name}__bare {definition}"
            ))
            .await?;
        }
        for (i, definition) in image.indexes.iter().enumerate() {
            // `CREATE INDEX name ON schema.table …` on the bare table.
            let Some((_, rest)) = definition.split_once(" ON ") else {
                continue;
            };
            let Some((_, tail)) = rest.split_once(' ') else {
                continue;
            };
            let unique = if definition.starts_with("CREATE UNIQUE") {
                "UNIQUE "
            } else {
                ""
            };
            pg.batch_execute(&format!("CREATE {unique}INDEX {bare}_{i} ON {bare} {tail}"))
                .await?;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    for image in images {
        pg.batch_execute(&format!("DROP TABLE {}__bare", image.name))
            .await?;
    }
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let admin_url =
        std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    let events: u64 = std::env::var("REBUILD_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let admin = connect(&admin_url).await?;
    let name = format!("portal_ledger_rebuild_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let url = match admin_url.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{name}"),
        None => return Err("the admin URL names no database".into()),
    };
    let outcome = run(&url, events).await;
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await?;
    outcome
}

async fn run(url: &str, events: u64) -> BenchResult<()> {
    let location = StoreLocation::Postgres {
        url: url.to_owned(),
    };
    let backend = Backend::open(&location, Migrations::Apply).await?;
    let mut generated = Vec::new();
    let made = generate(42, Scale::for_events(events), &mut generated)?;
    portal_ledger::transfer::import::import_ndjson(backend.bulk(), Cursor::new(generated), |_| {})
        .await?;
    println!("imported a generated portal of {} events", made.events);

    let target = open_projections(&location, Migrations::Apply).await?;
    let projections = Projections::new(backend.shared(), backend.personal_data(), target);
    let started = Instant::now();
    projections
        .rebuild_live(&[], RebuildOptions::default(), &mut |_, _| {})
        .await?;
    let rebuild = started.elapsed().as_secs_f64();

    let pg = connect(url).await?;
    let mut images = Vec::new();
    let mut rows = 0u64;
    for projector in portal_ledger::projection::all_projectors() {
        for table in projector.tables() {
            let count: i64 = pg
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .get(0);
            rows += count.max(0) as u64;
            images.push(image(&pg, table).await?);
        }
    }
    pg.batch_execute("CHECKPOINT").await?;
    let floor = baseline(&pg, &images).await?;

    let rate = made.events as f64 / rebuild;
    println!(
        "rebuild of every projection: {rebuild:.1} s ({rate:.0} events/s, {rows} rows in {} tables)",
        images.len()
    );
    println!("baseline (COPY of the final rows into bare tables + keys and indexes): {floor:.1} s");
    println!(
        "rebuild speed / baseline speed: {:.2}x (target >= 0.5x)",
        floor / rebuild
    );
    println!(
        "a 10,000,000-event portal at this rate: {:.1} min (target < 10 min)",
        10_000_000.0 / rate / 60.0
    );
    Ok(())
}
