//! Live rebuilds and proofs of equality, on both backends: readers never see
//! a partial or older projection during a rebuild, an interrupted rebuild
//! leaves the live tables serving and the next one completes, digests agree
//! across copies, positions and backends, and `--verify` refuses to swap in
//! a copy that differs from the live tables.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_ledger::app::tickets;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::domain::ids::{AccountId, TicketId};
use portal_ledger::domain::role::AccountKind;
use portal_ledger::projection::runner::{Projections, RebuildOptions};
use portal_ledger::projection::{ProjectionError, ProjectionStore, SqlValue};
use support::TestStore;

/// Imports a generated portal of about `events` events.
async fn portal(t: &TestStore, events: u64) {
    let mut generated = Vec::new();
    portal_ledger::generate::generate(
        5,
        portal_ledger::generate::Scale::for_events(events),
        &mut generated,
    )
    .unwrap();
    portal_ledger::transfer::import::import_ndjson(
        t.backend.bulk(),
        std::io::Cursor::new(generated),
        |_| {},
    )
    .await
    .unwrap();
}

/// The test store's projection store (no live projectors).
async fn target(t: &TestStore) -> Arc<dyn ProjectionStore> {
    portal_ledger::backend::open_projections(&t.location, portal_ledger::backend::Migrations::Apply)
        .await
        .unwrap()
}

/// Rows and the newest position of a table, as a reader sees them.
async fn seen(target: &dyn ProjectionStore, table: &str) -> (usize, i64) {
    let rows = target
        .fetch(table, &[], "position DESC", usize::MAX >> 1)
        .await
        .unwrap();
    let newest = rows
        .first()
        .and_then(|r| r["position"].as_i64())
        .unwrap_or(0);
    (rows.len(), newest)
}

on_both_backends!(
    readers_never_see_a_partial_projection_during_a_live_rebuild,
    |t: TestStore| async move {
        portal(&t, 3_000).await;
        // The serving process: live projectors and a writer.
        let live = t.live_projections().await;
        let head = t.store.head().await.unwrap().position;
        assert!(live.wait_for(head, support::PROJECTION_WAIT).await);
        let target = live.target().clone();
        let before = seen(target.as_ref(), "proj_activity").await;
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let org = AccountId(uuid::Uuid::now_v7());
        ledger
            .run(
                &CommandContext::system(),
                CreateAccount {
                    account_id: org,
                    kind: AccountKind::Organization,
                    name: String::from("Busy"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (done, ledger) = (done.clone(), ledger.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !done.load(Ordering::Relaxed) && n < 2_000 {
                    let ticket = TicketId(uuid::Uuid::now_v7());
                    ledger
                        .run(
                            &CommandContext::system(),
                            tickets::OpenTicket {
                                account_id: org,
                                ticket_id: ticket,
                                subject: String::from(&format!("T{n}")),
                                description: String::from("d"),
                            },
                        )
                        .await
                        .unwrap();
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                n
            })
        };
        // A reader polling the activity log and the tickets.
        let reader = {
            let (done, target) = (done.clone(), target.clone());
            tokio::spawn(async move {
                let mut last = before;
                let mut tickets = 0;
                let mut polls = 0;
                while !done.load(Ordering::Relaxed) {
                    let now = seen(target.as_ref(), "proj_activity").await;
                    assert!(
                        now.0 >= last.0 && now.1 >= last.1,
                        "went back from {last:?} to {now:?}"
                    );
                    let open = target
                        .fetch("proj_tickets", &[], "ticket_id", usize::MAX >> 1)
                        .await
                        .unwrap()
                        .len();
                    assert!(
                        open >= tickets,
                        "tickets went back from {tickets} to {open}"
                    );
                    (last, tickets) = (now, open);
                    polls += 1;
                }
                polls
            })
        };
        // A rebuild in another "process" (its own runner and holder).
        let rebuilder = Projections::new(t.store.clone(), t.personal.clone(), target.clone());
        rebuilder.rebuild(&[], &mut |_, _| {}).await.unwrap();
        done.store(true, Ordering::Relaxed);
        let written = writer.await.unwrap();
        let polls = reader.await.unwrap();
        assert!(written > 0 && polls > 0, "{written} {polls}");

        // The live projectors resumed after the swap and caught up.
        let head = t.store.head().await.unwrap().position;
        assert!(live.wait_for(head, support::PROJECTION_WAIT).await);
        let status = live.status().await.unwrap();
        assert!(status.iter().all(|p| p.failure.is_none()), "{status:?}");
        // And equal a fresh rebuild's rows.
        let live_digests = live.checksums(&[], None).await.unwrap();
        live.stop();
        rebuilder.rebuild(&[], &mut |_, _| {}).await.unwrap();
        assert_eq!(rebuilder.checksums(&[], None).await.unwrap(), live_digests);
    }
);

on_both_backends!(
    an_interrupted_rebuild_leaves_the_live_tables_and_the_next_completes,
    |t: TestStore| async move {
        portal(&t, 8_000).await;
        let projections = Projections::new(t.store.clone(), t.personal.clone(), target(&t).await);
        projections.catch_up_all().await.unwrap();
        let target = projections.target().clone();
        let before = projections
            .checksums(&["activity".to_owned()], None)
            .await
            .unwrap();
        let rows_before = target.dump("proj_activity").await.unwrap();

        interrupt_a_rebuild_of_activity(&t, target.as_ref()).await;

        // The live tables serve as before.
        assert_eq!(target.dump("proj_activity").await.unwrap(), rows_before);
        assert_eq!(
            projections
                .checksums(&["activity".to_owned()], None)
                .await
                .unwrap(),
            before
        );
        let interrupted = target
            .projector_rows()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.projector == "activity#next")
            .unwrap()
            .position;
        assert!(interrupted > 300);

        // The next rebuild resumes from the copy and completes.
        let output = Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
            .args(t.cli_args())
            .args(["rebuild", "activity", "--verify"])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains("verified"), "{stderr}");
        assert_eq!(
            projections
                .checksums(&["activity".to_owned()], None)
                .await
                .unwrap(),
            before
        );
        assert!(!target
            .projector_rows()
            .await
            .unwrap()
            .iter()
            .any(|r| r.projector == "activity#next"));
    }
);

on_both_backends!(
    checksums_prove_equality_and_verify_refuses_a_differing_copy,
    |t: TestStore| async move {
        portal(&t, 2_000).await;
        let projections = Projections::new(t.store.clone(), t.personal.clone(), target(&t).await);
        projections.catch_up_all().await.unwrap();
        let head = t.store.head().await.unwrap().position;
        let at_head = projections.checksums(&[], None).await.unwrap();
        assert!(at_head.iter().all(|d| d.position == head));

        // More events; the digest as of the old head is unchanged.
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let org = AccountId(uuid::Uuid::now_v7());
        ledger
            .run(
                &CommandContext::system(),
                CreateAccount {
                    account_id: org,
                    kind: AccountKind::Organization,
                    name: String::from("Later"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        projections.catch_up_all().await.unwrap();
        let now = projections
            .checksums(&["accounts".to_owned()], None)
            .await
            .unwrap();
        let old = at_head.iter().find(|d| d.projector == "accounts").unwrap();
        assert_ne!(now[0].digest, old.digest);
        let then = projections
            .checksums(&["accounts".to_owned()], Some(head))
            .await
            .unwrap();
        assert_eq!(&then[0], old);
        let beyond = projections
            .checksums(&[], Some(head + 100))
            .await
            .unwrap_err();
        assert!(
            matches!(beyond, ProjectionError::BeyondHead { .. }),
            "{beyond}"
        );

        // The CLI prints the same digest.
        let output = Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
            .args(t.cli_args())
            .args(["projections", "checksum", "accounts"])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(output.status.success());
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            format!("accounts {} {}", now[0].position, now[0].digest)
        );

        // Verified rebuild of an intact projection swaps.
        let rebuilt = verified_rebuild(&projections, "tickets").await.unwrap();
        assert!(rebuilt[0].digest.is_some());

        // A live row altered behind the projector's back: verify refuses,
        // names the projection and the rows, and swaps nothing.
        let ticket = t
            .store
            .read_all(1, 100_000, &portal_ledger::store::ReadFilter::all())
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.event_type.as_str() == "ticket.opened")
            .unwrap()
            .stream_id
            .as_str()
            .trim_start_matches("ticket-")
            .to_owned();
        target_exec(
            &t,
            &format!("UPDATE proj_tickets SET comment_count = 99 WHERE ticket_id = '{ticket}'"),
        )
        .await;
        let refused = verified_rebuild(&projections, "tickets").await.unwrap_err();
        match &refused {
            ProjectionError::Differs(difference) => {
                assert_eq!(difference.projector, "tickets");
                assert_eq!(difference.only_live.len(), 1, "{refused}");
                assert!(
                    difference.only_live[0].contains(&ticket)
                        && difference.only_live[0].contains("99"),
                    "{refused}"
                );
                assert_eq!(difference.only_rebuilt.len(), 1, "{refused}");
            }
            other => panic!("expected a difference, got {other}"),
        }
        let tickets = projections.target().dump("proj_tickets").await.unwrap();
        assert!(tickets
            .iter()
            .any(|r| r.contains(&ticket) && r.contains("\"comment_count\":99")));
        // An unverified rebuild repairs it.
        projections
            .rebuild(&["tickets".to_owned()], &mut |_, _| {})
            .await
            .unwrap();
        let tickets = projections.target().dump("proj_tickets").await.unwrap();
        assert!(!tickets.iter().any(|r| r.contains("\"comment_count\":99")));
    }
);

on_both_backends!(
    a_command_id_repeated_far_apart_keeps_its_first_activity_row_in_a_rebuild,
    |t: TestStore| async move {
        // An imported history whose event 12,000 repeats the command id of
        // event 20: further apart than a rebuild's fill remembers, so on
        // PostgreSQL the keyless copy holds both rows until its keys are
        // built, and the build drops the later one.
        let mut generated = Vec::new();
        portal_ledger::generate::generate(
            5,
            portal_ledger::generate::Scale::for_events(14_000),
            &mut generated,
        )
        .unwrap();
        let mut lines: Vec<serde_json::Value> = String::from_utf8(generated)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(lines.len() > 12_000, "{}", lines.len());
        let shared = lines[20]["metadata"]["command_id"].clone();
        lines[12_000]["metadata"]["command_id"] = shared.clone();
        let ndjson: String = lines.iter().map(|l| format!("{l}\n")).collect();
        portal_ledger::transfer::import::import_ndjson(
            t.backend.bulk(),
            std::io::Cursor::new(ndjson.into_bytes()),
            |_| {},
        )
        .await
        .unwrap();
        let projections = Projections::new(t.store.clone(), t.personal.clone(), target(&t).await);
        projections.catch_up_all().await.unwrap();
        let live = projections.checksums(&[], None).await.unwrap();
        let shared = shared.as_str().unwrap();
        let row = |rows: Vec<serde_json::Value>| -> Vec<i64> {
            rows.iter()
                .map(|r| r["position"].as_i64().unwrap())
                .collect()
        };
        let first = projections
            .target()
            .fetch(
                "proj_activity",
                &[("activity_id", SqlValue::text(shared))],
                "position",
                10,
            )
            .await
            .unwrap();
        let first = row(first);
        assert!(first.len() == 1 && first[0] < 100, "{first:?}");

        projections.rebuild(&[], &mut |_, _| {}).await.unwrap();
        assert_eq!(projections.checksums(&[], None).await.unwrap(), live);
        let rebuilt = projections
            .target()
            .fetch(
                "proj_activity",
                &[("activity_id", SqlValue::text(shared))],
                "position",
                10,
            )
            .await
            .unwrap();
        assert_eq!(row(rebuilt), first);
        // The rebuilt table has its keys again, under their live names.
        if let Some(database) = &t.database {
            let keys: Vec<String> = database
                .owner_client()
                .await
                .query(
                    "SELECT conname FROM pg_constraint \
                     WHERE conrelid = 'proj_activity'::regclass AND contype IN ('p', 'u') \
                     ORDER BY conname",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(keys, ["proj_activity_pkey", "proj_activity_position_key"]);
        }
        // And the live projector goes on inserting-if-absent into it.
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        ledger
            .run(
                &CommandContext::system(),
                CreateAccount {
                    account_id: AccountId(uuid::Uuid::now_v7()),
                    kind: AccountKind::Organization,
                    name: String::from("After"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        projections.catch_up_all().await.unwrap();
    }
);

/// Starts `rebuild activity` in a process of its own and kills it once its
/// copy has passed position 300.
async fn interrupt_a_rebuild_of_activity(t: &TestStore, target: &dyn ProjectionStore) {
    let mut rebuild = support::process::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
            .args(t.cli_args())
            .args(["rebuild", "activity"])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    loop {
        let rows = target.projector_rows().await.unwrap();
        if rows
            .iter()
            .any(|r| r.projector == "activity#next" && r.position > 300)
        {
            break;
        }
        assert!(
            rebuild.0.try_wait().unwrap().is_none(),
            "the rebuild ended before it could be interrupted"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the rebuild never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rebuild.0.kill().unwrap();
    rebuild.0.wait().unwrap();
}

/// `rebuild --verify` of one projection.
async fn verified_rebuild(
    projections: &Projections,
    name: &str,
) -> Result<Vec<portal_ledger::projection::runner::Rebuilt>, ProjectionError> {
    projections
        .rebuild_live(
            &[name.to_owned()],
            RebuildOptions { verify: true },
            &mut |_, _| {},
        )
        .await
}

/// Runs SQL on the test store's projection database, as an operator (or an
/// intruder) could.
async fn target_exec(t: &TestStore, sql: &str) {
    match &t.location {
        portal_ledger::backend::StoreLocation::Postgres { .. } => {
            t.database
                .as_ref()
                .unwrap()
                .owner_client()
                .await
                .batch_execute(sql)
                .await
                .unwrap();
        }
        portal_ledger::backend::StoreLocation::Embedded { data_dir } => {
            let conn = rusqlite::Connection::open(data_dir.join("projections.sqlite3")).unwrap();
            conn.execute_batch(sql).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_log_digests_alike_on_both_backends() {
    let mut digests = Vec::new();
    for kind in [support::Kind::Embedded, support::Kind::Postgres] {
        let t = TestStore::new(kind).await;
        portal(&t, 2_000).await;
        let projections = Projections::new(t.store.clone(), t.personal.clone(), target(&t).await);
        projections.catch_up_all().await.unwrap();
        digests.push(projections.checksums(&[], None).await.unwrap());
    }
    for (embedded, postgres) in digests[0].iter().zip(&digests[1]) {
        assert_eq!(embedded, postgres, "{}", embedded.projector);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_waits_for_a_long_reader_without_blocking_the_others() {
    let t = TestStore::new(support::Kind::Postgres).await;
    portal(&t, 1_000).await;
    let projections = Projections::new(t.store.clone(), t.personal.clone(), target(&t).await);
    projections.catch_up_all().await.unwrap();
    let tickets = projections.target().dump("proj_tickets").await.unwrap();

    // An export-like reader holds the live table for a while.
    let long = t.database.as_ref().unwrap().owner_client().await;
    long.batch_execute("BEGIN; SELECT count(*) FROM proj_tickets")
        .await
        .unwrap();
    let rebuild = {
        let projections = projections.clone();
        tokio::spawn(async move {
            projections
                .rebuild(&["tickets".to_owned()], &mut |_, _| {})
                .await
        })
    };
    // Other readers keep being answered meanwhile (each swap attempt gives
    // up after its lock timeout instead of queueing them forever).
    for _ in 0..5 {
        assert_eq!(
            projections.target().dump("proj_tickets").await.unwrap(),
            tickets
        );
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    }
    assert!(
        !rebuild.is_finished(),
        "the swap cannot happen while the reader holds the table"
    );
    long.batch_execute("COMMIT").await.unwrap();
    rebuild.await.unwrap().unwrap();
    assert_eq!(
        projections.target().dump("proj_tickets").await.unwrap(),
        tickets
    );
}

/// A copy fills with autovacuum off (it only grows; its statistics are
/// taken once it is indexed); the table swapped in is vacuumed like any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_in_table_is_autovacuumed_again() {
    let t = TestStore::new(support::Kind::Postgres).await;
    portal(&t, 500).await;
    let projections = Projections::new(t.store.clone(), t.personal.clone(), target(&t).await);
    projections.catch_up_all().await.unwrap();
    projections
        .rebuild(&["tickets".to_owned()], &mut |_, _| {})
        .await
        .unwrap();
    let client = t.database.as_ref().unwrap().owner_client().await;
    let options: Option<Vec<String>> = client
        .query_one(
            "SELECT reloptions FROM pg_class WHERE oid = 'proj_tickets'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(options, None, "the live table keeps the fill's settings");
    let analyzed: bool = client
        .query_one(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables \
             WHERE relname = 'proj_tickets'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(analyzed, "the copy is analyzed before it is swapped in");
}
