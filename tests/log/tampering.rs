//! The database refuses to change the log, and `verify` catches whoever
//! changes it anyway.
//!
//! First the triggers: UPDATE, DELETE and TRUNCATE are refused even for the
//! database owner. Then each test bypasses the triggers as the owner
//! (PostgreSQL: `session_replication_role = replica`, which only a superuser
//! may set; SQLite: dropping the triggers) and tampers in one way; `verify`
//! must fail and name the right position.

use crate::support;

use portal_ledger::backend::StoreLocation;
use portal_ledger::chain::HashedFields;
use portal_ledger::event::{EventType, Hash, JsonObject, RecordedEvent, StreamId};
use portal_ledger::integrity::{verify_store, Broken, ExpectedHead, Problem, VerifyError};
use portal_ledger::store::ReadFilter;
use support::{Kind, TestStore};

const EVENTS: usize = 12;

/// Runs SQL against the store's database directly, as its owner.
async fn owner_sql(t: &TestStore, sql: &str, bypass_triggers: bool) -> Result<(), String> {
    match &t.location {
        StoreLocation::Postgres { .. } => {
            let client = t.database.as_ref().unwrap().owner_client().await;
            let sql = if bypass_triggers {
                format!("SET session_replication_role = replica; {sql}")
            } else {
                sql.to_owned()
            };
            client.batch_execute(&sql).await.map_err(|e| {
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_owned())
            })
        }
        StoreLocation::Embedded { data_dir } => {
            let conn = rusqlite::Connection::open(data_dir.join("events.sqlite3")).unwrap();
            let sql = if bypass_triggers {
                format!(
                    "DROP TRIGGER IF EXISTS events_refuse_update; \
                     DROP TRIGGER IF EXISTS events_refuse_delete; {sql}"
                )
            } else {
                sql.to_owned()
            };
            conn.execute_batch(&sql).map_err(|e| e.to_string())
        }
    }
}

async fn verify_fails(t: &TestStore, expected_head: Option<ExpectedHead>) -> Broken {
    match verify_store(t.store.clone(), expected_head, |_| {}).await {
        Err(VerifyError::Broken(broken)) => broken,
        other => panic!("verify should fail, got {other:?}"),
    }
}

async fn filled(t: &TestStore) -> Vec<RecordedEvent> {
    support::fill(&t.store, EVENTS).await;
    verify_store(t.store.clone(), None, |_| {})
        .await
        .expect("a fresh log verifies");
    t.store.read_all(1, 100, &ReadFilter::all()).await.unwrap()
}

on_both_backends!(
    changes_are_refused_by_the_database,
    |t: TestStore| async move {
        filled(&t).await;
        let update = owner_sql(
            &t,
            "UPDATE events SET stream_version = 9 WHERE position = 3",
            false,
        )
        .await;
        assert!(update.unwrap_err().contains("append-only"));
        let delete = owner_sql(&t, "DELETE FROM events WHERE position = 3", false).await;
        assert!(delete.unwrap_err().contains("append-only"));
        let delete_all = owner_sql(&t, "DELETE FROM events", false).await;
        assert!(delete_all.unwrap_err().contains("append-only"));
        if t.kind == Kind::Postgres {
            let truncate = owner_sql(&t, "TRUNCATE events", false).await;
            assert!(truncate.unwrap_err().contains("append-only"));
        }
        assert_eq!(t.store.head().await.unwrap().position, EVENTS as u64);
        verify_store(t.store.clone(), None, |_| {}).await.unwrap();
    }
);

on_both_backends!(
    a_changed_payload_byte_is_caught,
    |t: TestStore| async move {
        let events = filled(&t).await;
        let original = events[4].payload.as_str().to_owned();
        let changed = original.replacen("example", "exbmple", 1);
        assert_ne!(original, changed);
        owner_sql(
            &t,
            &format!("UPDATE events SET payload = '{changed}' WHERE position = 5"),
            true,
        )
        .await
        .unwrap();
        let broken = verify_fails(&t, None).await;
        assert_eq!(broken.position, 5);
        assert!(matches!(broken.problem, Problem::HashMismatch { .. }));
    }
);

on_both_backends!(a_deleted_row_is_caught, |t: TestStore| async move {
    filled(&t).await;
    owner_sql(&t, "DELETE FROM events WHERE position = 6", true)
        .await
        .unwrap();
    let broken = verify_fails(&t, None).await;
    assert_eq!(broken.position, 6);
    assert_eq!(broken.problem, Problem::PositionMissing { found: 7 });
});

on_both_backends!(two_swapped_rows_are_caught, |t: TestStore| async move {
    filled(&t).await;
    owner_sql(
        &t,
        "UPDATE events SET position = 1000000 WHERE position = 4; \
         UPDATE events SET position = 4 WHERE position = 5; \
         UPDATE events SET position = 5 WHERE position = 1000000;",
        true,
    )
    .await
    .unwrap();
    let broken = verify_fails(&t, None).await;
    assert_eq!(broken.position, 4);
    assert!(matches!(broken.problem, Problem::PrevHashMismatch { .. }));
});

on_both_backends!(
    an_inserted_row_is_caught_even_with_a_valid_hash,
    |t: TestStore| async move {
        let events = filled(&t).await;
        // The forger knows the algorithm: the row at 7 chains correctly onto 6,
        // so the break shows at the next row, whose prev_hash no longer fits.
        let mut forged = RecordedEvent {
            position: 7,
            event_id: uuid::Uuid::now_v7(),
            stream_id: StreamId::parse("user-forged").unwrap(),
            stream_version: 1,
            event_type: EventType::parse("user.invited").unwrap(),
            schema_version: 1,
            payload: JsonObject::parse("payload", r#"{"email":"mallory@example.com"}"#).unwrap(),
            metadata: JsonObject::empty(),
            recorded_at: events[5].recorded_at,
            prev_hash: events[5].hash,
            hash: Hash::ZERO,
        };
        forged.hash = HashedFields::of(&forged).chained_hash(&forged.prev_hash);
        let insert = match t.kind {
        Kind::Postgres => format!(
            "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload, metadata, recorded_at, prev_hash, hash) VALUES (7, '{}', 'user-forged', 1, 'user.invited', 1, \
             '{}', '{{}}', '{}', '\\x{}', '\\x{}')",
            forged.event_id,
            forged.payload.as_str(),
            forged.recorded_at.to_rfc3339(),
            forged.prev_hash.to_hex(),
            forged.hash.to_hex()
        ),
        Kind::Embedded => format!(
            "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, schema_version, \
             payload, metadata, recorded_at, prev_hash, hash) VALUES (7, X'{}', 'user-forged', 1, 'user.invited', 1, \
             '{}', '{{}}', {}, X'{}', X'{}')",
            forged.event_id.simple(),
            forged.payload.as_str(),
            forged.recorded_at.timestamp_micros(),
            forged.prev_hash.to_hex(),
            forged.hash.to_hex()
        ),
    };
        owner_sql(
            &t,
            &format!(
                "UPDATE events SET position = position + 1000000 WHERE position >= 7; \
             UPDATE events SET position = position - 999999 WHERE position >= 1000000; {insert};"
            ),
            true,
        )
        .await
        .unwrap();
        let broken = verify_fails(&t, None).await;
        assert_eq!(broken.position, 8);
        assert!(matches!(broken.problem, Problem::PrevHashMismatch { .. }));
    }
);

on_both_backends!(
    a_truncated_tail_is_caught_against_a_recorded_head,
    |t: TestStore| async move {
        filled(&t).await;
        let head = t.store.head().await.unwrap();
        let recorded = ExpectedHead {
            position: head.position,
            hash: head.hash,
        };
        verify_store(t.store.clone(), Some(recorded), |_| {})
            .await
            .unwrap();
        owner_sql(
            &t,
            &format!("DELETE FROM events WHERE position > {}", EVENTS - 3),
            true,
        )
        .await
        .unwrap();
        // The shortened log is self-consistent: only the recorded head shows it.
        verify_store(t.store.clone(), None, |_| {}).await.unwrap();
        let broken = verify_fails(&t, Some(recorded)).await;
        assert_eq!(broken.position, EVENTS as u64 - 2);
        assert_eq!(
            broken.problem,
            Problem::Truncated {
                expected_head: EVENTS as u64,
                last: EVENTS as u64 - 3
            }
        );
    }
);

/// The GRANTs README documents are enough to run the service on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_role_needs_only_insert_and_select() {
    let t = TestStore::new(Kind::Postgres).await;
    support::fill(&t.store, 3).await;
    let db = t.database.as_ref().unwrap();
    let role = format!("portal_ledger_app_{}", uuid::Uuid::new_v4().simple());
    let owner = db.owner_client().await;
    owner
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN; \
             GRANT CONNECT ON DATABASE {db_name} TO {role}; \
             GRANT USAGE ON SCHEMA public TO {role}; \
             GRANT SELECT, INSERT ON events TO {role};",
            db_name = db.name
        ))
        .await
        .unwrap();
    let app_url = db.url.replacen("postgres@", &format!("{role}@"), 1);
    let result = async {
        let store = portal_ledger::store::postgres::PgStore::connect(&app_url).await?;
        use portal_ledger::store::EventStore;
        let appended = store
            .append(support::append_one(
                "user-app",
                portal_ledger::store::ExpectedVersion::NoStream,
                support::event("user.invited", serde_json::json!({})),
            ))
            .await?;
        assert_eq!(appended.positions, vec![4]);
        assert_eq!(store.read_all(1, 10, &ReadFilter::all()).await?.len(), 4);
        Ok::<_, portal_ledger::store::StoreError>(())
    }
    .await;
    // The service role cannot change or remove events (no privilege at all).
    let (app, conn) = tokio_postgres::connect(&app_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let denied = app
        .batch_execute("UPDATE events SET stream_version = 1")
        .await;
    drop(app);
    owner
        .batch_execute(&format!("DROP OWNED BY {role}; "))
        .await
        .unwrap();
    drop(owner);
    drop(t);
    let (admin, conn) = tokio_postgres::connect(&support::admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .await
        .unwrap();
    result.unwrap();
    assert!(denied
        .unwrap_err()
        .as_db_error()
        .unwrap()
        .message()
        .contains("permission denied"));
}

// A forger who can bypass the triggers and knows the algorithm rewrites an
// event and rehashes everything after it: the chain verifies again, but a
// signed checkpoint still attests the original hash, and
// `verify --checkpoints` names it.
on_both_backends!(
    a_rewritten_and_rehashed_log_is_caught_by_a_checkpoint,
    |t: TestStore| async move {
        use portal_ledger::integrity::checkpoint::{
            append_checkpoint, CheckpointProblem, CheckpointSigner,
        };
        use portal_ledger::integrity::verify_store_with_checkpoints;

        let signer = CheckpointSigner::generate().unwrap();
        let original = filled(&t).await;
        let checkpoint = append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        assert_eq!(checkpoint.payload.head_position, EVENTS as u64);
        support::fill(&t.store, 3).await;
        let events = t.store.read_all(1, 100, &ReadFilter::all()).await.unwrap();

        let mut sql = String::new();
        let mut prev = events[3].hash;
        for event in &events[4..] {
            let mut event = event.clone();
            if event.position == 5 {
                let mut payload = event.payload.to_value();
                payload["n"] = serde_json::json!(4242);
                event.payload = JsonObject::from_value("payload", &payload).unwrap();
            }
            event.prev_hash = prev;
            event.hash = HashedFields::of(&event).chained_hash(&prev);
            prev = event.hash;
            let (prev_hash, hash) = match t.kind {
                Kind::Postgres => (
                    format!("'\\x{}'", event.prev_hash.to_hex()),
                    format!("'\\x{}'", event.hash.to_hex()),
                ),
                Kind::Embedded => (
                    format!("X'{}'", event.prev_hash.to_hex()),
                    format!("X'{}'", event.hash.to_hex()),
                ),
            };
            sql.push_str(&format!(
                "UPDATE events SET payload = '{}', prev_hash = {prev_hash}, hash = {hash} \
                 WHERE position = {};",
                event.payload.as_str(),
                event.position
            ));
        }
        owner_sql(&t, &sql, true).await.unwrap();

        // The chain alone verifies: it was recomputed consistently.
        let verified = verify_store(t.store.clone(), None, |_| {}).await.unwrap();
        assert_eq!(verified.events, events.len() as u64);
        assert_ne!(verified.last_hash, events.last().unwrap().hash);
        let rewritten = t.store.read_all(1, 100, &ReadFilter::all()).await.unwrap();
        assert_ne!(rewritten[4].payload, original[4].payload);
        match verify_store_with_checkpoints(t.store.clone(), None, signer.public(), |_| {}).await {
            Err(VerifyError::Checkpoint { position, problem }) => {
                assert_eq!(position, checkpoint.position);
                assert_eq!(
                    problem,
                    CheckpointProblem::ChainDiffers {
                        head_position: EVENTS as u64,
                        signed: original[EVENTS - 1].hash,
                        chain: rewritten[EVENTS - 1].hash,
                    }
                );
            }
            other => panic!("expected the checkpoint to differ, got {other:?}"),
        }
    }
);
