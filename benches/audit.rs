//! What auditors wait for, on a generated portal in PostgreSQL.
//!
//! Generates `AUDIT_EVENTS` events (default 1,000,000; the reference run is
//! 10,000,000) with `portal-ledger`'s generator (seed 42), imports them,
//! builds the accounts, activity and member-index projections, then times:
//!
//! - the activity log's **first page** (100 entries, newest first) with each
//!   filter, `AUDIT_ITERATIONS` times (default 200), as p50 / p99 — exactly
//!   the queries `GET /v1/activity` runs (the same `conditions()`), for a
//!   platform auditor (all accounts) and a partner's (the partner and its
//!   customers); target: p99 < 20 ms at 10 M events;
//! - **export**: every entry a partner's auditor may see, page by page as
//!   the export endpoint reads them, rendered as NDJSON (entries/s);
//! - **as-of reads**: a user and an account as of the middle of the log, an
//!   organization's user list as of then (from the member index, and — 3
//!   runs — by scanning the log as a ledger without the index does), and
//!   who could act in that organization then, and why (p50 / p99);
//! - **verify** against reading the whole log (target ≥ 0.5×).
//!
//! Nothing asserts on time; figures are printed. A fresh database
//! `portal_ledger_audit_<random>` is created and dropped (`BENCH_DATABASE_URL`
//! is an admin URL, default `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! Loading 10 M events takes over an hour here (projecting the activity log
//! is most of it), so a loaded portal can be kept and measured again:
//! `AUDIT_KEEP=1` keeps the database (its name is printed),
//! `AUDIT_DATABASE=<name>` measures an existing one without generating or
//! importing (and never drops it), first catching its read models up from
//! their checkpoints (after a migration added or emptied one).

use std::error::Error;
use std::io::{BufReader, BufWriter};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_ledger::app::audit::Visibility;
use portal_ledger::app::history::{AsOf, Entity};
use portal_ledger::app::members::MemberKind;
use portal_ledger::app::Ledger;
use portal_ledger::backend::{open_projections, Backend, Migrations, StoreLocation};
use portal_ledger::domain::ids::{AccountId, UserId};
use portal_ledger::generate::{generate, Scale};
use portal_ledger::projection::activity_search::{
    encode_cursor, search_conditions, ActivityFilter,
};
use portal_ledger::projection::read_models::ReadModels;
use portal_ledger::projection::runner::Projections;
use portal_ledger::projection::SqlValue;
use portal_ledger::store::pages::read_pages;
use portal_ledger::store::ReadFilter;
use tokio_postgres::NoTls;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PAGE: usize = 100;

#[tokio::main]
async fn main() -> BenchResult<()> {
    let admin_url =
        std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    let events: u64 = std::env::var("AUDIT_EVENTS")
        .unwrap_or_else(|_| "1000000".into())
        .parse()?;
    let iterations: usize = std::env::var("AUDIT_ITERATIONS")
        .unwrap_or_else(|_| "200".into())
        .parse()?;
    let admin = connect(&admin_url).await?;
    if let Ok(existing) = std::env::var("AUDIT_DATABASE") {
        let url = database_url(&admin_url, &existing);
        println!("measuring the portal already loaded in {existing}");
        return run(&url, None, iterations).await;
    }
    let name = format!("portal_ledger_audit_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let url = database_url(&admin_url, &name);
    let result = run(&url, Some(events), iterations).await;
    if std::env::var_os("AUDIT_KEEP").is_some() {
        println!("\nkept the loaded portal: AUDIT_DATABASE={name}");
    } else {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
    }
    result
}

async fn connect(url: &str) -> BenchResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn database_url(url: &str, dbname: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    if query.is_empty() {
        format!("{scheme}://{authority}/{dbname}")
    } else {
        format!("{scheme}://{authority}/{dbname}?{query}")
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn timed<F, Fut>(iterations: usize, mut f: F) -> BenchResult<(Duration, Duration, usize)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = BenchResult<usize>>,
{
    let mut times = Vec::with_capacity(iterations);
    let mut rows = 0;
    for _ in 0..iterations {
        let start = Instant::now();
        rows = f().await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.99), rows))
}

/// Generates the portal (seed 42), imports it and projects the accounts,
/// the activity log and the member index, printing how long each step took.
async fn load(
    backend: &Backend,
    target: &std::sync::Arc<dyn portal_ledger::projection::ProjectionStore>,
    events: u64,
) -> BenchResult<()> {
    let store = backend.shared();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("portal.ndjson");
    let scale = Scale::for_events(events);
    let start = Instant::now();
    let generated = {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&file)?);
        generate(42, scale, &mut out)?
    };
    let generate_time = start.elapsed();
    let start = Instant::now();
    let input = BufReader::with_capacity(1 << 20, std::fs::File::open(&file)?);
    let imported =
        portal_ledger::transfer::import::import_ndjson(backend.bulk(), input, |_| {}).await?;
    let import_time = start.elapsed();
    println!(
        "portal: {} events, {} accounts, {} users (seed 42); generated in {:.1} s, imported at {:.0} events/s",
        generated.events,
        generated.accounts,
        generated.users,
        generate_time.as_secs_f64(),
        imported.events as f64 / import_time.as_secs_f64()
    );

    // The read models the queries use.
    let projections = Projections::new(store, backend.personal_data(), target.clone());
    let start = Instant::now();
    projections
        .rebuild(
            &[
                "accounts".to_owned(),
                "activity".to_owned(),
                "account_entities".to_owned(),
            ],
            &mut |_, _| {},
        )
        .await?;
    println!(
        "projected accounts + activity + member index in {:.1} s ({:.0} events/s)",
        start.elapsed().as_secs_f64(),
        generated.events as f64 * 3.0 / start.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn run(url: &str, events: Option<u64>, iterations: usize) -> BenchResult<()> {
    let location = StoreLocation::Postgres {
        url: url.to_owned(),
    };
    let backend = Backend::open(&location, Migrations::Apply).await?;
    let target = open_projections(&location, Migrations::Apply).await?;
    let store = backend.shared();
    if let Some(events) = events {
        load(&backend, &target, events).await?;
    }
    let head = store.head().await?.position;
    println!("the log holds {head} events");
    let pg = connect(url).await?;
    // A kept portal may predate a migration that emptied a read model.
    for name in ["accounts", "activity", "account_entities"] {
        let row = pg
            .query_opt(
                "SELECT position FROM projection_checkpoints WHERE projector = $1",
                &[&name],
            )
            .await?;
        let reached: i64 = row.map_or(0, |r| r.get(0));
        if (reached as u64) < head {
            // Resumes from the projector's checkpoint (rows and checkpoint
            // are committed together, so an interrupted run loses nothing).
            let start = Instant::now();
            Projections::new(store.clone(), backend.personal_data(), target.clone())
                .catch_up(&[name.to_owned()])
                .await?;
            println!(
                "projected {name} from position {reached} to the head in {:.1} s ({:.0} events/s)",
                start.elapsed().as_secs_f64(),
                (head - reached as u64) as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    pg.batch_execute(
        "ANALYZE proj_activity; ANALYZE proj_accounts; ANALYZE proj_account_entities; ANALYZE events",
    )
        .await?;

    // Scopes: everything, and the first partner with its customers.
    let partners = target
        .fetch(
            "proj_accounts",
            &[("kind", SqlValue::text("partner"))],
            "account_id",
            10,
        )
        .await?;
    let partner: AccountId = AccountId(
        partners[0]["account_id"]
            .as_str()
            .ok_or("no partner")?
            .parse()?,
    );
    let customers: Vec<AccountId> = target
        .fetch(
            "proj_accounts",
            &[("parent_id", SqlValue::text(partner.to_string()))],
            "account_id",
            1_000_000,
        )
        .await?
        .iter()
        .filter_map(|r| r["account_id"].as_str()?.parse().ok())
        .map(AccountId)
        .collect();
    let partner_scope = Visibility::Accounts(
        std::iter::once(partner)
            .chain(customers.iter().copied())
            .collect(),
    );
    // A busy actor, a server and a week in the middle, from the data.
    let sample = target
        .query(
            "proj_activity",
            &[portal_ledger::projection::query::Condition::Eq(
                "action_type",
                SqlValue::text("Server Action"),
            )],
            "position DESC",
            1,
        )
        .await?;
    let actor = sample[0]["actor_email"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let server_id = sample[0]["targets"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let middle = sample[0]["recorded_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let middle: chrono::DateTime<chrono::Utc> = middle.parse()?;

    let filters: Vec<(&str, &Visibility, ActivityFilter)> = vec![
        (
            "no filter (platform)",
            &Visibility::All,
            ActivityFilter::default(),
        ),
        ("partner scope", &partner_scope, ActivityFilter::default()),
        (
            "account",
            &Visibility::All,
            ActivityFilter {
                account_id: customers.first().copied(),
                ..Default::default()
            },
        ),
        (
            "actor e-mail",
            &Visibility::All,
            ActivityFilter {
                actor_email: Some(actor.clone()),
                ..Default::default()
            },
        ),
        (
            "actor e-mail prefix",
            &Visibility::All,
            ActivityFilter {
                actor_email_prefix: Some("user12".into()),
                ..Default::default()
            },
        ),
        (
            "action types",
            &Visibility::All,
            ActivityFilter {
                action_types: Some("Update Configuration,Backup Machine Data".into()),
                ..Default::default()
            },
        ),
        (
            "description words",
            &Visibility::All,
            ActivityFilter {
                q: Some("brightness wall".into()),
                ..Default::default()
            },
        ),
        (
            "target",
            &Visibility::All,
            ActivityFilter {
                target_type: Some("server".into()),
                target_id: Some(server_id.clone()),
                ..Default::default()
            },
        ),
        (
            "time range (a week)",
            &Visibility::All,
            ActivityFilter {
                from: Some(middle - chrono::Duration::days(7)),
                to: Some(middle),
                ..Default::default()
            },
        ),
        (
            "outcome",
            &Visibility::All,
            ActivityFilter {
                outcome: Some("succeeded".into()),
                ..Default::default()
            },
        ),
        (
            "partner + types + words",
            &partner_scope,
            ActivityFilter {
                action_types: Some("Update Configuration".into()),
                q: Some("brightness".into()),
                ..Default::default()
            },
        ),
        (
            "partner + two types",
            &partner_scope,
            ActivityFilter {
                action_types: Some("Update Configuration,Backup Machine Data".into()),
                ..Default::default()
            },
        ),
        (
            "partner + e-mail prefix",
            &partner_scope,
            ActivityFilter {
                actor_email_prefix: Some("user12".into()),
                ..Default::default()
            },
        ),
        (
            "partner + week + words",
            &partner_scope,
            ActivityFilter {
                from: Some(middle - chrono::Duration::days(7)),
                to: Some(middle),
                q: Some("wall".into()),
                ..Default::default()
            },
        ),
    ];
    println!("\nactivity log, first page of {PAGE} ({iterations} runs each):");
    println!("{:<28} {:>10} {:>10} {:>6}", "filter", "p50", "p99", "rows");
    for (label, visibility, filter) in &filters {
        let target = target.clone();
        let (p50, p99, rows) = timed(iterations, || {
            let target = target.clone();
            async move {
                let conditions = search_conditions(target.as_ref(), filter, visibility)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(target
                    .query("proj_activity", &conditions, "position DESC", PAGE)
                    .await?
                    .len())
            }
        })
        .await?;
        let flag = if p99 < Duration::from_millis(20) {
            ""
        } else {
            "  (over the 20 ms target)"
        };
        println!(
            "{label:<28} {:>10} {:>10} {rows:>6}{flag}",
            ms(p50),
            ms(p99)
        );
    }

    // Export: everything the partner's auditor may see.
    let start = Instant::now();
    let mut exported = 0usize;
    let mut bytes = 0usize;
    let mut filter = ActivityFilter::default();
    loop {
        let conditions = search_conditions(target.as_ref(), &filter, &partner_scope)
            .await
            .map_err(|e| e.to_string())?;
        let rows = target
            .query("proj_activity", &conditions, "position DESC", 1000)
            .await?;
        for row in &rows {
            bytes += serde_json::to_vec(row)?.len() + 1;
        }
        exported += rows.len();
        match rows.last().and_then(|r| r["position"].as_u64()) {
            Some(last) if rows.len() == 1000 => {
                filter.cursor = Some(encode_cursor(&filter, last));
            }
            _ => break,
        }
    }
    let export_time = start.elapsed();
    println!(
        "\nexport (partner scope, NDJSON): {exported} entries, {:.1} MB in {:.2} s = {:.0} entries/s",
        bytes as f64 / 1e6,
        export_time.as_secs_f64(),
        exported as f64 / export_time.as_secs_f64()
    );

    // As-of reads from the log.
    let ledger = Ledger::new(store.clone(), backend.personal_data())
        .with_members(Arc::new(ReadModels(target.clone())));
    let scanning = Ledger::new(store.clone(), backend.personal_data());
    let head = store.head().await?.position;
    let mid = AsOf::Position(head / 2);
    // A user whose role changed (portals generated before role changes
    // were "Update User Groups" logged them as "Update User Permissions").
    let users = target
        .query(
            "proj_activity",
            &[portal_ledger::projection::query::Condition::In(
                "action_type",
                vec![
                    SqlValue::text("Update User Groups"),
                    SqlValue::text("Update User Permissions"),
                ],
            )],
            "position",
            1,
        )
        .await?;
    let user: UserId = UserId(
        users[0]["targets"][0]["id"]
            .as_str()
            .ok_or("no user")?
            .parse()?,
    );
    let org = customers.first().copied().ok_or("no customer")?;
    println!(
        "\nas-of reads at position {} ({iterations} runs):",
        head / 2
    );
    let (p50, p99, _) = timed(iterations, || {
        let ledger = ledger.clone();
        async move {
            Ok(ledger
                .view_as_of(Entity::User(user), mid)
                .await?
                .map_or(0, |_| 1))
        }
    })
    .await?;
    println!("{:<28} {:>10} {:>10}", "a user", ms(p50), ms(p99));
    let (p50, p99, _) = timed(iterations, || {
        let ledger = ledger.clone();
        async move {
            Ok(ledger
                .view_as_of(Entity::Account(org), mid)
                .await?
                .map_or(0, |_| 1))
        }
    })
    .await?;
    println!("{:<28} {:>10} {:>10}", "an organization", ms(p50), ms(p99));
    // An organization's users as of then: from the member index, and (a
    // few runs) by scanning the log as a ledger without the index does.
    let org_users = |ledger: Ledger| async move {
        let ids = ledger
            .created_in_account(MemberKind::User, org, mid)
            .await?;
        for id in &ids {
            ledger
                .view_as_of(Entity::User(UserId(id.parse()?)), mid)
                .await?;
        }
        BenchResult::Ok(ids.len())
    };
    let (p50, p99, n) = timed(iterations, || org_users(ledger.clone())).await?;
    println!(
        "{:<28} {:>10} {:>10}   ({n} users)",
        "an organization's users",
        ms(p50),
        ms(p99)
    );
    let (p50, p99, _) = timed(3, || org_users(scanning.clone())).await?;
    println!(
        "{:<28} {:>10} {:>10}   (3 runs, without the member index)",
        "  … scanning the log",
        ms(p50),
        ms(p99)
    );
    // Who could act in the organization then (its staff, the partner's,
    // the platform's), from the member index.
    let (p50, p99, n) = timed(iterations, || {
        let ledger = ledger.clone();
        async move { Ok(ledger.who_could(org, None, mid).await?.len()) }
    })
    .await?;
    println!(
        "{:<28} {:>10} {:>10}   ({n} users)",
        "who could, and why",
        ms(p50),
        ms(p99)
    );

    // Verify against reading the whole log.
    let start = Instant::now();
    let mut pages = read_pages(store.clone(), 1, ReadFilter::all());
    let mut read = 0u64;
    while let Some(page) = pages.recv().await {
        read += page?.len() as u64;
    }
    let read_rate = read as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let verified = portal_ledger::integrity::verify_store(store.clone(), None, |_| {}).await?;
    let verify_rate = verified.events as f64 / start.elapsed().as_secs_f64();
    println!(
        "\nread_all {read_rate:.0} events/s, verify {verify_rate:.0} events/s = {:.2}× (target ≥ 0.5×)",
        verify_rate / read_rate
    );
    Ok(())
}
