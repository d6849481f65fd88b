//! Projector processes as production runs them: several `project` workers on
//! one PostgreSQL database under a steady append load, one killed with
//! SIGKILL, one paused (SIGSTOP) past its lease and resumed. Afterwards every
//! counter equals what the log implies and every table equals a fresh
//! rebuild's. A worker that stops itself with a batch in hand and resumes
//! after a takeover cannot commit it. And the embedded store refuses a
//! second projecting process.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_ledger::app::licenses;
use portal_ledger::app::tickets;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::domain::ids::{AccountId, LicenseId, TicketId};
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::projection::ProjectionStore;
use support::process::KillOnDrop;
use support::TestStore;

/// The lease the workers run with: failover within about this long.
const LEASE_SECONDS: f64 = 1.0;
/// Bound on a takeover in these tests (lease, retry interval, and a busy
/// 2-core machine running an unoptimized build).
const TAKEOVER_BOUND: Duration = Duration::from_secs(15);

/// The tests of this file run one at a time: each starts several real
/// processes and bounds how fast they take over, and on a 2-core machine
/// five of them at once measure the scheduler rather than the failover.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portal-ledger")
}

/// A `project` worker logging to `log`.
fn worker(t: &TestStore, log: &Path) -> KillOnDrop {
    let file = std::fs::File::create(log).unwrap();
    let child = Command::new(bin())
        .args(t.cli_args())
        .args(["project", "--lease-seconds", &LEASE_SECONDS.to_string()])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn portal-ledger project");
    KillOnDrop(child)
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// The pid in a lease holder's name (`host/pid/random`).
fn pid_of(holder: &str) -> u32 {
    holder.split('/').nth(1).unwrap().parse().unwrap()
}

/// The live holder of each projector.
async fn holders(target: &dyn ProjectionStore) -> HashMap<String, String> {
    target
        .projector_rows()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.holder.map(|h| (r.projector, h)))
        .collect()
}

/// Waits until `projector` is held by a process other than `old`; returns
/// the new holder and how long it took.
async fn new_holder(
    target: &dyn ProjectionStore,
    projector: &str,
    old: &str,
    since: Instant,
) -> (String, Duration) {
    loop {
        if let Some(holder) = holders(target).await.get(projector) {
            if holder != old {
                return (holder.clone(), since.elapsed());
            }
        }
        assert!(
            since.elapsed() < TAKEOVER_BOUND * 2,
            "{projector} never taken over from {old}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the load acknowledged: the counters the read models must show.
#[derive(Default)]
struct Acknowledged {
    comments: HashMap<TicketId, i64>,
    admins: i64,
    seats_assigned: i64,
}

/// Appends comments, admins and seat assignments until `stop` turns true
/// (bounded: at most `max` commands).
async fn load(
    ledger: Ledger,
    org: AccountId,
    tickets: Vec<TicketId>,
    license: LicenseId,
    stop: Arc<std::sync::atomic::AtomicBool>,
    max: usize,
) -> Acknowledged {
    let system = CommandContext::system();
    let mut acknowledged = Acknowledged::default();
    for i in 0..max {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let ticket = tickets[i % tickets.len()];
        ledger
            .run(
                &system,
                tickets::UpdateTicket {
                    ticket_id: ticket,
                    subject: None,
                    comment: Some(String::from(&format!("comment {i}"))),
                },
            )
            .await
            .unwrap();
        *acknowledged.comments.entry(ticket).or_default() += 1;
        if i % 5 == 0 {
            let user = support::user_in(
                &ledger,
                org,
                &format!("admin{i}@customer.example"),
                Role::Admin,
            )
            .await;
            acknowledged.admins += 1;
            ledger
                .run(
                    &system,
                    licenses::AssignLicense {
                        license_id: license,
                        users: vec![user],
                    },
                )
                .await
                .unwrap();
            acknowledged.seats_assigned += 1;
        }
    }
    acknowledged
}

/// The row of `table` whose `key` column is `id`.
async fn row(
    target: &dyn ProjectionStore,
    table: &str,
    key: &str,
    id: String,
) -> serde_json::Value {
    let rows = target
        .fetch(
            table,
            &[(key, portal_ledger::projection::SqlValue::text(id))],
            key,
            1,
        )
        .await
        .unwrap();
    rows.into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {table} row"))
}

/// Every projection table, as sorted JSON rows.
async fn dump_all(target: &dyn ProjectionStore) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for projector in portal_ledger::projection::all_projectors() {
        for table in projector.tables() {
            let mut rows = target.dump(table).await.unwrap();
            rows.sort();
            out.push((table.to_string(), rows));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_projectors_fail_over_and_never_apply_a_batch_twice() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let t = TestStore::new(support::Kind::Postgres).await;
    let target = portal_ledger::backend::open_projections(
        &t.location,
        portal_ledger::backend::Migrations::Apply,
    )
    .await
    .unwrap();
    let ledger = Ledger::new(t.store.clone(), t.personal.clone());
    let system = CommandContext::system();
    let org = AccountId(uuid::Uuid::now_v7());
    ledger
        .run(
            &system,
            CreateAccount {
                account_id: org,
                kind: AccountKind::Organization,
                name: String::from("Customer"),
                parent: None,
            },
        )
        .await
        .unwrap();
    support::user_in(&ledger, org, "owner@customer.example", Role::Admin).await;
    let license = LicenseId(uuid::Uuid::now_v7());
    ledger
        .run(
            &system,
            licenses::CreateLicense {
                account_id: org,
                license_id: license,
                product: String::from("Wall"),
                seats: 100_000,
            },
        )
        .await
        .unwrap();
    let mut tickets = Vec::new();
    for i in 0..4 {
        let ticket = TicketId(uuid::Uuid::now_v7());
        ledger
            .run(
                &system,
                tickets::OpenTicket {
                    account_id: org,
                    ticket_id: ticket,
                    subject: String::from(&format!("Ticket {i}")),
                    description: String::from("d"),
                },
            )
            .await
            .unwrap();
        tickets.push(ticket);
    }

    let logs = tempfile::tempdir().unwrap();
    let mut workers: Vec<KillOnDrop> = (0..3)
        .map(|i| worker(&t, &logs.path().join(format!("w{i}.log"))))
        .collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn(load(
        ledger.clone(),
        org,
        tickets.clone(),
        license,
        stop.clone(),
        50_000,
    ));

    // Every projector finds a holder among the workers.
    let names: Vec<&str> = portal_ledger::projection::all_projectors()
        .iter()
        .map(|p| p.name())
        .collect();
    let started = Instant::now();
    let held = loop {
        let held = holders(target.as_ref()).await;
        if names.iter().all(|n| held.contains_key(*n)) {
            break held;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "projectors never all held: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let pids: Vec<u32> = workers.iter().map(|w| w.0.id()).collect();
    assert!(
        held.values().all(|h| pids.contains(&pid_of(h))),
        "{held:?} {pids:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    // SIGKILL the tickets projector's holder while it works.
    let victim = held["tickets"].clone();
    signal(pid_of(&victim), "KILL");
    let killed_at = Instant::now();
    let (after_kill, failover) = new_holder(target.as_ref(), "tickets", &victim, killed_at).await;
    assert_ne!(pid_of(&after_kill), pid_of(&victim));
    assert!(failover < TAKEOVER_BOUND, "failover took {failover:?}");
    eprintln!("failover after SIGKILL: {failover:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;

    // SIGSTOP the accounts projector's holder past its lease, then resume it.
    let held = holders(target.as_ref()).await;
    let paused = held["accounts"].clone();
    assert_ne!(pid_of(&paused), pid_of(&victim));
    signal(pid_of(&paused), "STOP");
    let paused_at = Instant::now();
    let (after_pause, takeover) = new_holder(target.as_ref(), "accounts", &paused, paused_at).await;
    assert!(takeover < TAKEOVER_BOUND, "takeover took {takeover:?}");
    eprintln!("takeover from a paused worker: {takeover:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(pid_of(&paused), "CONT");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A third worker joins while the load goes on.
    workers.push(worker(&t, &logs.path().join("w3.log")));
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = load.await.unwrap();
    assert!(!acknowledged.comments.is_empty());

    // Everything applied, by the survivors.
    let head = t.store.head().await.unwrap().position;
    let caught_up = Instant::now();
    loop {
        let rows = target.projector_rows().await.unwrap();
        if rows.len() >= names.len() && rows.iter().all(|r| r.position == head) {
            break;
        }
        if caught_up.elapsed() > Duration::from_secs(300) {
            let mut text = String::new();
            for i in 0..4 {
                text.push_str(
                    &std::fs::read_to_string(logs.path().join(format!("w{i}.log")))
                        .unwrap_or_default(),
                );
            }
            panic!("not caught up to {head}: {rows:?}\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resumed_log = std::fs::read_to_string(logs.path().join(format!(
        "w{}.log",
        pids.iter().position(|p| *p == pid_of(&paused)).unwrap()
    )))
    .unwrap();
    assert_ne!(after_pause, paused);

    // The counters are what the log implies: no batch applied twice.
    for (ticket, comments) in &acknowledged.comments {
        let ticket_row = row(
            target.as_ref(),
            "proj_tickets",
            "ticket_id",
            ticket.0.to_string(),
        )
        .await;
        assert_eq!(
            ticket_row["comment_count"].as_i64().unwrap(),
            *comments,
            "ticket {ticket:?}"
        );
    }
    let account = row(
        target.as_ref(),
        "proj_accounts",
        "account_id",
        org.0.to_string(),
    )
    .await;
    assert_eq!(
        account["admin_count"].as_i64().unwrap(),
        acknowledged.admins + 1
    );
    let license_row = row(
        target.as_ref(),
        "proj_licenses",
        "license_id",
        license.0.to_string(),
    )
    .await;
    assert_eq!(
        license_row["assigned_count"].as_i64().unwrap(),
        acknowledged.seats_assigned
    );

    // And every table equals a fresh rebuild's.
    let live = dump_all(target.as_ref()).await;
    drop(workers);
    let rebuilt = Command::new(bin())
        .args(t.cli_args())
        .arg("rebuild")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let fresh = dump_all(target.as_ref()).await;
    for ((table, live), (_, fresh)) in live.iter().zip(&fresh) {
        assert_eq!(live.len(), fresh.len(), "{table}");
        assert!(live == fresh, "{table} differs from a fresh rebuild");
    }
    // The paused worker learned it had lost its projectors.
    assert!(
        resumed_log.contains("lease lost") || resumed_log.contains("lease taken"),
        "{resumed_log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_an_embedded_data_directory_is_refused() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let t = TestStore::new(support::Kind::Embedded).await;
    support::fill(&t.store, 3).await;
    let mut command = Command::new(bin());
    command
        .args(t.cli_args())
        .arg("serve")
        .env_remove("DATABASE_URL");
    let first = support::process::serve(command).await;

    for args in [&["serve", "--listen", "127.0.0.1:0"][..], &["project"][..]] {
        let second = Command::new(bin())
            .args(t.cli_args())
            .args(args)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert_eq!(second.status.code(), Some(1), "{args:?}");
        let message = String::from_utf8_lossy(&second.stderr);
        assert!(
            message.contains("another portal-ledger process"),
            "{message}"
        );
        assert!(message.contains("single-process"), "{message}");
    }
    // Read-only commands work beside it, and the first still serves.
    for args in [
        &["head"][..],
        &["verify"][..],
        &["export"][..],
        &["projections", "status"][..],
    ] {
        let output = Command::new(bin())
            .args(t.cli_args())
            .args(args)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (status, ready) = support::process::http_get(&first.address, "/readyz")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(ready["head"], 3);
    let projectors = ready["projectors"].as_array().unwrap();
    assert!(
        projectors.iter().all(|p| p["holder"] == ready["process"]),
        "{ready}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_projectors_reads_its_writes_through_a_worker() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let t = TestStore::new(support::Kind::Postgres).await;
    let bootstrap = Command::new(bin())
        .args(t.cli_args())
        .args(["bootstrap", "--email", "root@platform.example"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(bootstrap.status.success());
    let password = String::from_utf8_lossy(&bootstrap.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("one-time password: ").map(str::to_owned))
        .unwrap();
    let mut command = Command::new(bin());
    command
        .args(t.cli_args())
        .args(["serve", "--no-projectors"])
        .env_remove("DATABASE_URL");
    let served = support::process::serve(command).await;
    let address = served.address.clone();
    let sign_in = support::process::http_request(
        &address,
        "POST",
        "/v1/sessions",
        &[],
        Some(&serde_json::json!({"email": "root@platform.example", "password": password})),
    )
    .await
    .unwrap();
    assert_eq!(sign_in.status, 201, "{}", sign_in.body);
    let bearer = format!("Bearer {}", sign_in.body["token"].as_str().unwrap());
    let created = support::process::http_request(
        &address,
        "POST",
        "/v1/accounts",
        &[("Authorization", &bearer)],
        Some(&serde_json::json!({"kind": "organization", "name": "Customer"})),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let (account, position) = (
        created.body["account_id"].as_str().unwrap().to_owned(),
        created.body["position"].as_u64().unwrap(),
    );
    let path = format!("/v1/accounts/{account}?position={position}");

    // Nobody projects: the read waits, then says so.
    let waiting =
        support::process::http_request(&address, "GET", &path, &[("Authorization", &bearer)], None)
            .await
            .unwrap();
    assert_eq!(
        (waiting.status, waiting.body["error"]["code"].as_str()),
        (503, Some("not_yet_projected"))
    );
    let (_, ready) = support::process::http_get(&address, "/readyz")
        .await
        .unwrap();
    assert!(
        ready["projectors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["holder"].is_null() && p["here"] == false),
        "{ready}"
    );

    // A worker elsewhere projects it; the server sees its checkpoints.
    let logs = tempfile::tempdir().unwrap();
    let _worker = worker(&t, &logs.path().join("w.log"));
    // The worker starts, takes the leases and catches up; each read waits
    // up to 5 s on the server, so a slow start is asked again.
    let started = Instant::now();
    let read = loop {
        let read = support::process::http_request(
            &address,
            "GET",
            &path,
            &[("Authorization", &bearer)],
            None,
        )
        .await
        .unwrap();
        if read.status != 503 || started.elapsed() > support::PROJECTION_WAIT {
            break read;
        }
    };
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["name"], "Customer");
    let (_, ready) = support::process::http_get(&address, "/readyz")
        .await
        .unwrap();
    let projectors = ready["projectors"].as_array().unwrap();
    assert!(projectors.iter().all(|p| p["here"] == false), "{ready}");
    assert!(
        projectors.iter().any(|p| p["holder"].is_string()),
        "{ready}"
    );
    drop(served);
}

/// Whether the process is stopped (state `T` in `/proc/<pid>/stat`).
fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('T'))
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_resumes_with_a_batch_in_hand_cannot_commit_it() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    resume_with_a_batch_in_hand("tickets").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_paused_inside_its_commit_neither_blocks_a_takeover_nor_commits() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    // Paused after its statements ran and before COMMIT, the worker holds
    // its lease rows' locks: the server ends its quiet transaction, the
    // second worker takes over, and the resumed worker's commit fails.
    resume_with_a_batch_in_hand("tickets:in-transaction").await;
}

async fn resume_with_a_batch_in_hand(stop_at: &str) {
    // The first worker stops itself right before committing a tickets
    // batch that counts comments (see `runner::stop_point`); a second
    // worker takes the projector over and applies the same events; the
    // first is resumed and tries to commit its batch. Two things stop it:
    // the lease renewal, which cancels the work once the lease is lost, and
    // the fence of the commit (lease token + checkpoint compare-and-set),
    // which holds even when the commit wins that race. With neither, this
    // test fails (351 comments counted for 260); with the fence alone it
    // passes.
    let t = TestStore::new(support::Kind::Postgres).await;
    let target = portal_ledger::backend::open_projections(
        &t.location,
        portal_ledger::backend::Migrations::Apply,
    )
    .await
    .unwrap();
    let ledger = Ledger::new(t.store.clone(), t.personal.clone());
    let system = CommandContext::system();
    let org = AccountId(uuid::Uuid::now_v7());
    ledger
        .run(
            &system,
            CreateAccount {
                account_id: org,
                kind: AccountKind::Organization,
                name: String::from("Customer"),
                parent: None,
            },
        )
        .await
        .unwrap();
    let license = LicenseId(uuid::Uuid::now_v7());
    ledger
        .run(
            &system,
            licenses::CreateLicense {
                account_id: org,
                license_id: license,
                product: String::from("Wall"),
                seats: 100_000,
            },
        )
        .await
        .unwrap();
    let ticket = TicketId(uuid::Uuid::now_v7());
    ledger
        .run(
            &system,
            tickets::OpenTicket {
                account_id: org,
                ticket_id: ticket,
                subject: String::from("Ticket"),
                description: String::from("d"),
            },
        )
        .await
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn(load(
        ledger.clone(),
        org,
        vec![ticket],
        license,
        stop.clone(),
        50_000,
    ));
    // Comments wait in the log before the first worker starts: its first
    // tickets batch counts some.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let logs = tempfile::tempdir().unwrap();
    let first_log = logs.path().join("first.log");
    let file = std::fs::File::create(&first_log).unwrap();
    let first = KillOnDrop(
        Command::new(bin())
            .args(t.cli_args())
            .args(["project", "--lease-seconds", &LEASE_SECONDS.to_string()])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env(
                portal_ledger::projection::stop_point::STOP_BEFORE_COMMIT,
                stop_at,
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap(),
    );
    let first_pid = first.0.id();
    let started = Instant::now();
    while !is_stopped(first_pid) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first worker never stopped: {}",
            std::fs::read_to_string(&first_log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = holders(target.as_ref()).await;
    let stopped_holder = held["tickets"].clone();
    assert_eq!(pid_of(&stopped_holder), first_pid);

    let second = worker(&t, &logs.path().join("second.log"));
    let (taken_by, _) =
        new_holder(target.as_ref(), "tickets", &stopped_holder, Instant::now()).await;
    assert_eq!(pid_of(&taken_by), second.0.id());
    // The second worker applies what the first holds (and more).
    let stopped_at = target.checkpoint("tickets").await.unwrap();
    let started = Instant::now();
    while target.checkpoint("tickets").await.unwrap() <= stopped_at {
        assert!(
            started.elapsed() < TAKEOVER_BOUND,
            "the second worker never advanced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(first_pid, "CONT");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = load.await.unwrap();

    let head = t.store.head().await.unwrap().position;
    let started = Instant::now();
    loop {
        let rows = target.projector_rows().await.unwrap();
        if rows
            .iter()
            .all(|r| r.projector.contains('#') || r.position == head)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not caught up to {head}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ticket_row = row(
        target.as_ref(),
        "proj_tickets",
        "ticket_id",
        ticket.0.to_string(),
    )
    .await;
    assert_eq!(
        ticket_row["comment_count"].as_i64().unwrap(),
        acknowledged.comments[&ticket]
    );
    let first_log = std::fs::read_to_string(&first_log).unwrap();
    assert!(
        first_log.contains("stopping this process before a commit"),
        "{first_log}"
    );
    assert!(
        first_log.contains("lease lost") || first_log.contains("lease taken"),
        "{first_log}"
    );
    drop((first, second));
}
