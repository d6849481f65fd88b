//! Many writers, one subscriber: nothing lost, duplicated or reordered.
//!
//! 32 tasks × 500 appends each. Every tenth append of a task goes to one of
//! four shared streams with an exact expectation read just before (so writers
//! race and some lose); the rest go to new streams. A subscriber tails the log
//! from position 1 the whole time. Afterwards the log, every stream and the
//! subscriber's view are checked against what the writers were told.

use crate::support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use portal_ledger::integrity::verify_store;
use portal_ledger::store::{ExpectedVersion, ReadFilter, StoreError};
use serde_json::json;
use support::{append_one, event, stream};
use uuid::Uuid;

const TASKS: usize = 32;
const APPENDS_PER_TASK: usize = 500;
const SHARED_STREAMS: usize = 4;

#[derive(Default)]
struct TaskReport {
    /// event id → (stream, position) of every acknowledged append.
    acknowledged: Vec<(Uuid, String, u64)>,
    conflicts: usize,
}

on_both_backends!(
    writers_race_and_the_log_stays_whole,
    |t: support::TestStore| async move {
        let store = t.store.clone();
        let mut subscription = store.subscribe(1, ReadFilter::all()).await.unwrap();
        let total_expected = TASKS * APPENDS_PER_TASK;

        let mut writers = Vec::new();
        for task in 0..TASKS {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                let mut report = TaskReport::default();
                for i in 0..APPENDS_PER_TASK {
                    let shared = i % 10 == 0;
                    let name = if shared {
                        format!("account-shared{}", (task + i) % SHARED_STREAMS)
                    } else {
                        format!("user-{}", Uuid::now_v7().simple())
                    };
                    let new = event("thing.happened", json!({ "task": task, "i": i }));
                    let id = new.event_id;
                    loop {
                        let expected = if shared {
                            let version = store
                                .read_stream(&stream(&name), 1, usize::MAX >> 1)
                                .await
                                .unwrap()
                                .last()
                                .map_or(0, |e| e.stream_version);
                            ExpectedVersion::Exact(version)
                        } else {
                            ExpectedVersion::NoStream
                        };
                        match store.append(append_one(&name, expected, new.clone())).await {
                            Ok(outcome) => {
                                report
                                    .acknowledged
                                    .push((id, name.clone(), outcome.positions[0]));
                                break;
                            }
                            Err(StoreError::WrongExpectedVersion {
                                stream,
                                expected: e,
                                actual,
                            }) => {
                                assert!(shared, "a conflict on a new stream");
                                assert_eq!(stream.as_str(), name);
                                assert_eq!(e, expected);
                                assert_ne!(ExpectedVersion::Exact(actual), expected);
                                report.conflicts += 1;
                            }
                            Err(other) => panic!("append failed: {other}"),
                        }
                    }
                }
                report
            }));
        }

        // The subscriber reads while the writers write.
        let mut seen_positions = Vec::with_capacity(total_expected);
        let mut seen_ids = HashSet::with_capacity(total_expected);
        while seen_positions.len() < total_expected {
            let event = tokio::time::timeout(Duration::from_secs(60), subscription.next())
                .await
                .expect("subscriber stalled")
                .expect("subscription open")
                .expect("subscription error");
            assert!(seen_ids.insert(event.event_id), "event delivered twice");
            seen_positions.push(event.position);
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(300), subscription.next())
                .await
                .is_err(),
            "the subscriber saw more events than were appended"
        );

        let mut acknowledged = HashMap::new();
        let mut conflicts = 0;
        for writer in writers {
            let report = writer.await.unwrap();
            conflicts += report.conflicts;
            for (id, name, position) in report.acknowledged {
                assert!(acknowledged.insert(id, (name, position)).is_none());
            }
        }
        assert_eq!(acknowledged.len(), total_expected);
        assert!(
            conflicts > 0,
            "the shared streams never conflicted; the test did not race"
        );

        // The subscriber saw every position exactly once, in order.
        let expected_positions: Vec<u64> = (1..=total_expected as u64).collect();
        assert_eq!(seen_positions, expected_positions);

        // The log holds exactly the acknowledged events, at their positions, with
        // contiguous positions and per-stream versions.
        let mut all = Vec::with_capacity(total_expected);
        let mut from = 1;
        loop {
            let page = store
                .read_all(from, 5000, &ReadFilter::all())
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            all.extend(page);
        }
        assert_eq!(all.len(), total_expected);
        let mut versions: BTreeMap<String, u64> = BTreeMap::new();
        for (index, event) in all.iter().enumerate() {
            assert_eq!(event.position, index as u64 + 1);
            let (name, position) = acknowledged
                .get(&event.event_id)
                .expect("unacknowledged event in the log");
            assert_eq!(name, event.stream_id.as_str());
            assert_eq!(*position, event.position);
            let version = versions.entry(name.clone()).or_insert(0);
            *version += 1;
            assert_eq!(event.stream_version, *version, "stream {name} has a gap");
        }
        let shared_total: u64 = (0..SHARED_STREAMS)
            .map(|i| {
                versions
                    .get(&format!("account-shared{i}"))
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(shared_total as usize, TASKS * APPENDS_PER_TASK.div_ceil(10));

        let verified = verify_store(store.clone(), None, |_| {}).await.unwrap();
        assert_eq!(verified.events, total_expected as u64);
    }
);

// Two independent writers on one log (as two processes would be: separate
// connections, separate group-commit writers) stay serialized by the
// database lock: positions stay contiguous and the chain verifies.
on_both_backends!(
    two_writers_share_one_log,
    |t: support::TestStore| async move {
        let second = t.reopen().await.shared();
        let mut tasks = Vec::new();
        for (w, store) in [t.store.clone(), second].into_iter().enumerate() {
            for task in 0..8 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..150 {
                        store
                            .append(append_one(
                                &format!("user-{}", Uuid::now_v7().simple()),
                                ExpectedVersion::NoStream,
                                event(
                                    "thing.happened",
                                    json!({ "writer": w, "task": task, "i": i }),
                                ),
                            ))
                            .await
                            .unwrap();
                    }
                }));
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
        let verified = verify_store(t.store.clone(), None, |_| {}).await.unwrap();
        assert_eq!(verified.events, 2 * 8 * 150);
    }
);
