//! Nothing acknowledged is lost when the process dies.
//!
//! The test re-runs its own test binary as a child process (the ignored
//! `child_appends_until_killed`), which appends from several tasks at once
//! and prints `ACK <event id> <position>` for every append the store
//! acknowledged. The parent kills it with SIGKILL mid-stream, reopens the
//! store as a restarted service would, and checks that every acknowledged
//! event is there at its position and that the chain verifies.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portal_ledger::backend::{Backend, Migrations, StoreLocation};
use portal_ledger::integrity::verify_store;
use portal_ledger::store::ExpectedVersion;
use serde_json::json;
use support::{append_one, event, Kind, TestStore};
use uuid::Uuid;

const CHILD_ENV: &str = "PORTAL_LEDGER_CRASH_CHILD_LOCATION";
const CHILD_TASKS: usize = 8;
/// Acknowledgements to wait for before killing the child.
const ACKS_BEFORE_KILL: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_sigkill_on_the_embedded_store() {
    survives_sigkill(Kind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_sigkill_on_postgres() {
    survives_sigkill(Kind::Postgres).await;
}

async fn survives_sigkill(kind: Kind) {
    let t = TestStore::new(kind).await;
    let location = match &t.location {
        StoreLocation::Embedded { data_dir } => format!("embedded:{}", data_dir.display()),
        StoreLocation::Postgres { url } => format!("postgres:{url}"),
    };
    // The child test's name as the harness knows it (its module path
    // without the binary's name).
    let child_test = format!(
        "{}::child_appends_until_killed",
        module_path!().split_once("::").map_or("", |(_, m)| m)
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &child_test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, location)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().unwrap();

    // Read acknowledgements on a thread until enough arrived, then kill.
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("ACK ") {
                let mut parts = rest.split(' ');
                let id: Uuid = parts.next().unwrap().parse().unwrap();
                let position: u64 = parts.next().unwrap().parse().unwrap();
                acks.push((id, position));
            }
        }
        acks
    });
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let head = t.store.head().await.unwrap().position;
        if head as usize >= ACKS_BEFORE_KILL || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    child.kill().expect("SIGKILL the child");
    child.wait().unwrap();
    let acks = reader.join().unwrap();
    assert!(
        acks.len() >= ACKS_BEFORE_KILL / 2,
        "the child acknowledged only {} appends",
        acks.len()
    );

    // Restart: open the store afresh and check every acknowledged append.
    let backend = t.reopen().await;
    let store = backend.shared();
    for (id, position) in &acks {
        let found = store
            .read_all(*position, 1, &Default::default())
            .await
            .unwrap();
        assert_eq!(
            found.first().map(|e| e.event_id),
            Some(*id),
            "acknowledged event at {position} lost"
        );
    }
    let verified = verify_store(store.clone(), None, |_| {}).await.unwrap();
    assert!(verified.events >= acks.len() as u64);
    // The store still takes appends after the crash.
    let next = store
        .append(append_one(
            "user-after",
            ExpectedVersion::NoStream,
            event("user.invited", json!({})),
        ))
        .await
        .unwrap();
    assert_eq!(next.positions, vec![verified.events + 1]);
}

/// Not a test on its own: the child process of the tests above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the SIGKILL tests"]
async fn child_appends_until_killed() {
    let Ok(location) = std::env::var(CHILD_ENV) else {
        return;
    };
    let location = match location.split_once(':') {
        Some(("embedded", dir)) => StoreLocation::Embedded {
            data_dir: dir.into(),
        },
        Some(("postgres", url)) => StoreLocation::Postgres {
            url: url.to_owned(),
        },
        _ => panic!("bad location {location}"),
    };
    let store = Backend::open(&location, Migrations::Skip)
        .await
        .unwrap()
        .shared();
    let mut tasks = Vec::new();
    for task in 0..CHILD_TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // Bounded: the parent kills us long before this ends.
            for i in 0..100_000 {
                let new = event("thing.happened", json!({ "task": task, "i": i }));
                let id = new.event_id;
                let name = format!("user-{}", Uuid::now_v7().simple());
                let outcome = store
                    .append(append_one(&name, ExpectedVersion::NoStream, new))
                    .await
                    .unwrap();
                println!("ACK {id} {}", outcome.positions[0]);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}
