//! Merkle proofs on a large log in PostgreSQL.
//!
//! Appends `PROOF_EVENTS` events (default 1,000,000; the reference run is
//! 10,000,000) in appends of 10,000, builds the stored tree
//! (`MerkleTree::extend_to`, timed), then times `PROOF_ITERATIONS` (default
//! 1,000) inclusion proofs of random entries in the whole log and as many
//! consistency proofs between random sizes — each with the roots it needs,
//! as `GET /v1/proofs/…` computes them — as p50 / p99 (target: p99 < 10 ms
//! at 10 M events). The baseline, in the same process: the root of the
//! whole log folded from every event, as a verifier without the stored
//! tree must; the ratio says how much cheaper a proof is.
//!
//! Then one signed checkpoint is appended (its roots: the tree's, and the
//! accounts tree's over 100 accounts the events are spread over), and
//! `verify --checkpoints` — the chain plus every checkpoint's signature,
//! Merkle root and accounts root, folded event by event — is timed
//! against `verify` of the chain alone, same run.
//!
//! Nothing asserts on time; figures are printed. A fresh database
//! `portal_ledger_proofs_<random>` is created and dropped
//! (`BENCH_DATABASE_URL` is an admin URL, default
//! `postgres://postgres@127.0.0.1:5432/postgres`).

use std::error::Error;
use std::time::{Duration, Instant};

use portal_ledger::backend::{Backend, Migrations, StoreLocation};
use portal_ledger::event::{EventType, JsonObject, NewEvent, StreamId};
use portal_ledger::integrity::checkpoint::{append_checkpoint, CheckpointSigner};
use portal_ledger::integrity::merkle::{self, Frontier};
use portal_ledger::integrity::proofs::{prove_consistency, prove_inclusion};
use portal_ledger::integrity::{verify_store, verify_store_with_checkpoints};
use portal_ledger::store::pages::read_pages;
use portal_ledger::store::{ExpectedVersion, ReadFilter, StreamAppend};
use tokio_postgres::NoTls;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const APPEND: u64 = 10_000;

#[tokio::main]
async fn main() -> BenchResult<()> {
    let admin_url =
        std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    let events: u64 = std::env::var("PROOF_EVENTS")
        .unwrap_or_else(|_| "1000000".into())
        .parse()?;
    let iterations: usize = std::env::var("PROOF_ITERATIONS")
        .unwrap_or_else(|_| "1000".into())
        .parse()?;
    let (admin, connection) = tokio_postgres::connect(&admin_url, NoTls).await?;
    tokio::spawn(connection);
    let name = format!("portal_ledger_proofs_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let (base, _) = admin_url.rsplit_once('/').unwrap_or((&admin_url, ""));
    let url = format!("{base}/{name}");
    let result = run(&url, events, iterations).await;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    result
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    let at = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

async fn run(url: &str, events: u64, iterations: usize) -> BenchResult<()> {
    let backend = Backend::open(
        &StoreLocation::Postgres {
            url: url.to_owned(),
        },
        Migrations::Apply,
    )
    .await?;
    let store = backend.shared();
    let started = Instant::now();
    let event_type = EventType::parse("invoice.issued")?;
    let mut appended = 0;
    while appended < events {
        let n = APPEND.min(events - appended);
        let batch = (0..n)
            .map(|i| {
                let n = appended + i;
                let metadata = JsonObject::from_value(
                    "metadata",
                    &serde_json::json!({ "account": format!("account-{}", n % 100) }),
                )?;
                JsonObject::from_value("payload", &serde_json::json!({ "n": n, "amount": "12.50" }))
                    .map(|payload| {
                        NewEvent::new(event_type.clone(), payload).with_metadata(metadata)
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        store
            .append(vec![StreamAppend::new(
                StreamId::parse(format!("invoice-{}", uuid::Uuid::now_v7()))?,
                ExpectedVersion::NoStream,
                batch,
            )])
            .await?;
        appended += n;
    }
    println!(
        "appended {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let tree = backend.merkle_tree();
    let started = Instant::now();
    tree.extend_to(events).await?;
    let indexing = started.elapsed();
    println!(
        "stored tree built in {:.1} s ({:.0} events/s)",
        indexing.as_secs_f64(),
        events as f64 / indexing.as_secs_f64()
    );

    // Baseline: the root folded from every event.
    let started = Instant::now();
    let mut frontier = Frontier::new();
    let mut pages = read_pages(store.clone(), 1, ReadFilter::all());
    while let Some(page) = pages.recv().await {
        for event in &page? {
            frontier.push(&event.hash);
        }
    }
    let fold = started.elapsed();
    let root = tree.root(events).await?;
    assert_eq!(root, frontier.root(), "the stored tree and the fold agree");
    println!(
        "baseline: root folded from all events in {:.2} s",
        fold.as_secs_f64()
    );

    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut inclusion = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let position = 1 + random.below(events);
        let started = Instant::now();
        let proof = prove_inclusion(&tree, position, events).await?;
        inclusion.push(started.elapsed());
        if inclusion.len() == 1 {
            let path: Vec<_> = proof
                .audit_path
                .iter()
                .map(|h| portal_ledger::event::Hash::from_hex(h))
                .collect::<Result<_, _>>()?;
            let hash = portal_ledger::event::Hash::from_hex(&proof.event_hash)?;
            merkle::verify_inclusion(position - 1, events, &hash, &path, &root)?;
            println!("inclusion proof: {} hashes", proof.audit_path.len());
        }
    }
    let mut consistency = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let from = 1 + random.below(events);
        let started = Instant::now();
        let proof = prove_consistency(&tree, from, events).await?;
        consistency.push(started.elapsed());
        if consistency.len() == 1 {
            println!("consistency proof: {} hashes", proof.proof.len());
        }
    }
    let (p50, p99) = percentiles(inclusion);
    println!(
        "inclusion proofs ({iterations}): p50 {:.2} ms, p99 {:.2} ms; the baseline fold is {:.0}× p99",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        fold.as_secs_f64() / p99.as_secs_f64()
    );
    let (p50, p99) = percentiles(consistency);
    println!(
        "consistency proofs ({iterations}): p50 {:.2} ms, p99 {:.2} ms; the baseline fold is {:.0}× p99",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        fold.as_secs_f64() / p99.as_secs_f64()
    );

    // Checking checkpoints while verifying, against the chain alone.
    let signer = CheckpointSigner::generate()?;
    let started = Instant::now();
    append_checkpoint(&tree, &signer).await?;
    println!(
        "a checkpoint signed in {:.2} s (this process folds the accounts' chains once)",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    verify_store(store.clone(), None, |_| {}).await?;
    let chain = started.elapsed();
    let started = Instant::now();
    let (_, checked) =
        verify_store_with_checkpoints(store.clone(), None, signer.public(), |_| {}).await?;
    let with = started.elapsed();
    assert_eq!(checked.checked, 1);
    let total = events + 1;
    println!(
        "verify: {:.0} events/s; with checkpoints (roots and accounts folded): {:.0} events/s = {:.2}×",
        total as f64 / chain.as_secs_f64(),
        total as f64 / with.as_secs_f64(),
        chain.as_secs_f64() / with.as_secs_f64()
    );
    Ok(())
}
