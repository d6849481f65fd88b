//! The store contract, checked the same way on both backends.
//!
//! Every test here is written once against `SharedStore` and instantiated
//! for the embedded store and for PostgreSQL by `on_both_backends!`.

use crate::support;

use std::time::Duration;

use portal_ledger::event::{EventType, Hash, JsonObject, NewEvent};
use portal_ledger::integrity::verify_store;
use portal_ledger::store::append::{AppendLimitError, MAX_EVENTS_PER_APPEND, MAX_EVENT_BYTES};
use portal_ledger::store::{ExpectedVersion, ReadFilter, StoreError, StreamAppend};
use serde_json::json;
use support::{append_one, event, stream};

on_both_backends!(
    an_empty_log_has_head_zero,
    |t: support::TestStore| async move {
        let head = t.store.head().await.unwrap();
        assert_eq!(head.position, 0);
        assert_eq!(head.hash, Hash::ZERO);
        assert!(t
            .store
            .read_all(1, 10, &ReadFilter::all())
            .await
            .unwrap()
            .is_empty());
    }
);

on_both_backends!(
    appends_get_contiguous_positions_and_versions,
    |t: support::TestStore| async move {
        let s = &t.store;
        let first = s
            .append(vec![StreamAppend::new(
                stream("user-a"),
                ExpectedVersion::NoStream,
                vec![
                    event("user.invited", json!({"n": 1})),
                    event("user.renamed", json!({"n": 2})),
                ],
            )])
            .await
            .unwrap();
        assert_eq!(first.positions, vec![1, 2]);
        assert_eq!(first.streams[0].version, 2);
        let second = s
            .append(append_one(
                "user-a",
                ExpectedVersion::Exact(2),
                event("user.renamed", json!({"n": 3})),
            ))
            .await
            .unwrap();
        assert_eq!(second.positions, vec![3]);
        assert_eq!(second.streams[0].version, 3);

        let events = s.read_stream(&stream("user-a"), 1, 100).await.unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, vec![1, 2, 3]);
        assert_eq!(events[0].prev_hash, Hash::ZERO);
        assert_eq!(events[1].prev_hash, events[0].hash);
        assert_eq!(events[2].payload.as_str(), r#"{"n":3}"#);
        assert!(events
            .windows(2)
            .all(|w| w[0].recorded_at <= w[1].recorded_at));

        let head = s.head().await.unwrap();
        assert_eq!(head.position, 3);
        assert_eq!(head.hash, events[2].hash);

        let from_two = s.read_stream(&stream("user-a"), 2, 1).await.unwrap();
        assert_eq!(from_two.len(), 1);
        assert_eq!(from_two[0].stream_version, 2);
        assert!(s
            .read_stream(&stream("user-none"), 1, 10)
            .await
            .unwrap()
            .is_empty());
    }
);

on_both_backends!(
    the_envelope_is_stored_exactly,
    |t: support::TestStore| async move {
        let metadata = JsonObject::from_value(
        "metadata",
        &json!({"actor": {"id": "u-1", "email": "admin@example.com"}, "ip": "10.0.0.1", "correlation_id": "c-1"}),
    )
    .unwrap();
        let new = NewEvent::new(
            EventType::parse("user.invited").unwrap(),
            JsonObject::from_value(
                "payload",
                &json!({"email": "ä@example.com", "role": "Admin", "n": 1.5}),
            )
            .unwrap(),
        )
        .with_metadata(metadata.clone())
        .with_schema_version(3);
        let id = new.event_id;
        t.store
            .append(append_one("user-x", ExpectedVersion::Any, new.clone()))
            .await
            .unwrap();
        let stored = t
            .store
            .read_all(1, 1, &ReadFilter::all())
            .await
            .unwrap()
            .remove(0);
        assert_eq!(stored.event_id, id);
        assert_eq!(stored.stream_id.category(), "user");
        assert_eq!(stored.event_type.as_str(), "user.invited");
        assert_eq!(stored.schema_version, 3);
        assert_eq!(stored.payload, new.payload);
        assert_eq!(stored.metadata, metadata);
        assert_eq!(stored.recorded_at.timestamp_subsec_nanos() % 1000, 0);
        assert_eq!(stored.hash, portal_ledger::chain::expected_hash(&stored));
    }
);

on_both_backends!(
    a_failed_expectation_appends_nothing,
    |t: support::TestStore| async move {
        let s = &t.store;
        s.append(append_one(
            "org-1",
            ExpectedVersion::NoStream,
            event("org.created", json!({})),
        ))
        .await
        .unwrap();
        // A multi-stream append where the second expectation fails.
        let err = s
            .append(vec![
                StreamAppend::new(
                    stream("user-new"),
                    ExpectedVersion::NoStream,
                    vec![event("user.invited", json!({}))],
                ),
                StreamAppend::new(
                    stream("org-1"),
                    ExpectedVersion::Exact(5),
                    vec![event("org.updated", json!({}))],
                ),
            ])
            .await
            .unwrap_err();
        match err {
            StoreError::WrongExpectedVersion {
                stream,
                expected,
                actual,
            } => {
                assert_eq!(stream.as_str(), "org-1");
                assert_eq!(expected, ExpectedVersion::Exact(5));
                assert_eq!(actual, 1);
            }
            other => panic!("expected a conflict, got {other}"),
        }
        let err = s
            .append(append_one(
                "org-1",
                ExpectedVersion::NoStream,
                event("org.created", json!({})),
            ))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::WrongExpectedVersion { actual: 1, .. }
        ));
        let err = s
            .append(append_one(
                "org-2",
                ExpectedVersion::Exact(1),
                event("org.updated", json!({})),
            ))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::WrongExpectedVersion { actual: 0, .. }
        ));
        assert_eq!(s.head().await.unwrap().position, 1);
        assert!(s
            .read_stream(&stream("user-new"), 1, 10)
            .await
            .unwrap()
            .is_empty());
        // Exact(0) is the same as "no stream".
        s.append(append_one(
            "org-2",
            ExpectedVersion::Exact(0),
            event("org.created", json!({})),
        ))
        .await
        .unwrap();
    }
);

on_both_backends!(
    a_multi_stream_append_is_atomic_and_ordered,
    |t: support::TestStore| async move {
        let outcome = t
            .store
            .append(vec![
                StreamAppend::new(
                    stream("license-1"),
                    ExpectedVersion::NoStream,
                    vec![event("license.created", json!({"seats": 1}))],
                ),
                StreamAppend::new(
                    stream("user-1"),
                    ExpectedVersion::Any,
                    vec![
                        event("user.invited", json!({})),
                        event("license.assigned", json!({"license": "license-1"})),
                    ],
                ),
            ])
            .await
            .unwrap();
        assert_eq!(outcome.positions, vec![1, 2, 3]);
        assert_eq!(outcome.streams[0].stream_id, "license-1");
        assert_eq!(outcome.streams[0].version, 1);
        assert_eq!(outcome.streams[1].version, 2);
        assert_eq!(outcome.last_position(), 3);
    }
);

on_both_backends!(
    a_retried_append_returns_the_original_result,
    |t: support::TestStore| async move {
        let s = &t.store;
        let request = vec![StreamAppend::new(
            stream("user-r"),
            ExpectedVersion::NoStream,
            vec![
                event("user.invited", json!({"a": 1})),
                event("user.renamed", json!({"a": 2})),
            ],
        )];
        let first = s.append(request.clone()).await.unwrap();
        s.append(append_one(
            "user-other",
            ExpectedVersion::Any,
            event("user.invited", json!({})),
        ))
        .await
        .unwrap();
        // The expectation no longer holds, but a retry is answered from the log.
        let again = s.append(request.clone()).await.unwrap();
        assert_eq!(again, first);
        assert_eq!(s.head().await.unwrap().position, 3);

        // Same id, other content: refused.
        let mut changed = request.clone();
        changed[0].events[1].payload = JsonObject::from_value("payload", &json!({"a": 3})).unwrap();
        let err = s.append(changed).await.unwrap_err();
        assert!(
            matches!(err, StoreError::IdempotencyConflict { event_id } if event_id == request[0].events[1].event_id)
        );
        // Same id in another stream: refused.
        let mut moved = request.clone();
        moved[0].stream_id = stream("user-elsewhere");
        assert!(matches!(
            s.append(moved).await.unwrap_err(),
            StoreError::IdempotencyConflict { .. }
        ));
        // A stored id mixed with a new one: refused, and the new one is not stored.
        let mut mixed = request.clone();
        let fresh = event("user.renamed", json!({"a": 4}));
        let fresh_id = fresh.event_id;
        mixed[0].events.push(fresh);
        assert!(
            matches!(s.append(mixed).await.unwrap_err(), StoreError::IdempotencyConflict { event_id } if event_id == fresh_id)
        );
        assert_eq!(s.head().await.unwrap().position, 3);
    }
);

on_both_backends!(
    concurrent_retries_store_one_copy,
    |t: support::TestStore| async move {
        let request = append_one(
            "user-c",
            ExpectedVersion::NoStream,
            event("user.invited", json!({})),
        );
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = t.store.clone();
            let request = request.clone();
            tasks.push(tokio::spawn(async move { store.append(request).await }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap().unwrap());
        }
        assert!(outcomes.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(t.store.head().await.unwrap().position, 1);
    }
);

on_both_backends!(
    limits_are_typed_errors_and_append_nothing,
    |t: support::TestStore| async move {
        let s = &t.store;
        let err = s.append(vec![]).await.unwrap_err();
        assert!(matches!(err, StoreError::Limit(AppendLimitError::Empty)));
        let err = s
            .append(vec![StreamAppend::new(
                stream("user-e"),
                ExpectedVersion::Any,
                vec![],
            )])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Limit(AppendLimitError::Empty)));

        let big = "x".repeat(MAX_EVENT_BYTES);
        let err = s
            .append(append_one(
                "user-big",
                ExpectedVersion::Any,
                event("user.invited", json!({ "blob": big })),
            ))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Limit(AppendLimitError::EventTooLarge { .. })
        ));

        let many: Vec<NewEvent> = (0..=MAX_EVENTS_PER_APPEND)
            .map(|i| event("bulk.item", json!({ "i": i })))
            .collect();
        let err = s
            .append(vec![StreamAppend::new(
                stream("bulk-1"),
                ExpectedVersion::Any,
                many,
            )])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Limit(AppendLimitError::TooManyEvents { count }) if count == MAX_EVENTS_PER_APPEND + 1)
        );

        let twice = event("user.invited", json!({}));
        let err = s
            .append(vec![StreamAppend::new(
                stream("user-d"),
                ExpectedVersion::Any,
                vec![twice.clone(), twice],
            )])
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Limit(AppendLimitError::DuplicateEventId { .. })
        ));

        let err = s
            .append(vec![
                StreamAppend::new(
                    stream("user-d"),
                    ExpectedVersion::Any,
                    vec![event("a", json!({}))],
                ),
                StreamAppend::new(
                    stream("user-d"),
                    ExpectedVersion::Any,
                    vec![event("b", json!({}))],
                ),
            ])
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Limit(AppendLimitError::DuplicateStream { .. })
        ));

        let zero = event("user.invited", json!({})).with_schema_version(0);
        let err = s
            .append(append_one("user-z", ExpectedVersion::Any, zero))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Limit(AppendLimitError::SchemaVersionZero { .. })
        ));

        // Exactly at the limits is fine.
        let at_limit: Vec<NewEvent> = (0..MAX_EVENTS_PER_APPEND)
            .map(|i| event("bulk.item", json!({ "i": i })))
            .collect();
        let outcome = s
            .append(vec![StreamAppend::new(
                stream("bulk-2"),
                ExpectedVersion::NoStream,
                at_limit,
            )])
            .await
            .unwrap();
        assert_eq!(outcome.positions.len(), MAX_EVENTS_PER_APPEND);
        assert_eq!(
            s.head().await.unwrap().position,
            MAX_EVENTS_PER_APPEND as u64
        );
    }
);

#[test]
fn malformed_envelope_parts_cannot_be_built() {
    use portal_ledger::event::{EnvelopeError, StreamId};
    assert_eq!(StreamId::parse(""), Err(EnvelopeError::EmptyStreamId));
    assert_eq!(EventType::parse(""), Err(EnvelopeError::EmptyEventType));
    assert!(matches!(
        JsonObject::parse("payload", "[1,2]"),
        Err(EnvelopeError::NotAnObject { .. })
    ));
    assert!(matches!(
        JsonObject::parse("metadata", "\"text\""),
        Err(EnvelopeError::NotAnObject { .. })
    ));
}

on_both_backends!(
    read_all_filters_by_category_and_type,
    |t: support::TestStore| async move {
        let s = &t.store;
        s.append(append_one(
            "user-1",
            ExpectedVersion::Any,
            event("user.invited", json!({})),
        ))
        .await
        .unwrap();
        s.append(append_one(
            "server-1",
            ExpectedVersion::Any,
            event("server.registered", json!({})),
        ))
        .await
        .unwrap();
        s.append(append_one(
            "user-2",
            ExpectedVersion::Any,
            event("user.deleted", json!({})),
        ))
        .await
        .unwrap();
        s.append(append_one(
            "org-1",
            ExpectedVersion::Any,
            event("org.created", json!({})),
        ))
        .await
        .unwrap();

        let positions = |events: Vec<portal_ledger::event::RecordedEvent>| {
            events.iter().map(|e| e.position).collect::<Vec<_>>()
        };
        let users = ReadFilter {
            categories: vec!["user".into()],
            event_types: vec![],
        };
        assert_eq!(
            positions(s.read_all(1, 10, &users).await.unwrap()),
            vec![1, 3]
        );
        assert_eq!(positions(s.read_all(2, 10, &users).await.unwrap()), vec![3]);
        let two = ReadFilter {
            categories: vec!["user".into(), "org".into()],
            event_types: vec![],
        };
        assert_eq!(positions(s.read_all(1, 2, &two).await.unwrap()), vec![1, 3]);
        let typed = ReadFilter {
            categories: vec![],
            event_types: vec![
                EventType::parse("server.registered").unwrap(),
                EventType::parse("org.created").unwrap(),
            ],
        };
        assert_eq!(
            positions(s.read_all(1, 10, &typed).await.unwrap()),
            vec![2, 4]
        );
        let both = ReadFilter {
            categories: vec!["user".into()],
            event_types: vec![EventType::parse("user.deleted").unwrap()],
        };
        assert_eq!(positions(s.read_all(1, 10, &both).await.unwrap()), vec![3]);
        assert_eq!(
            positions(s.read_all(3, 10, &ReadFilter::all()).await.unwrap()),
            vec![3, 4]
        );
        assert_eq!(
            positions(s.read_all(1, 2, &ReadFilter::all()).await.unwrap()),
            vec![1, 2]
        );
    }
);

on_both_backends!(
    a_subscription_catches_up_then_goes_live,
    |t: support::TestStore| async move {
        let s = t.store.clone();
        support::fill(&s, 5).await;
        let mut sub = s.subscribe(3, ReadFilter::all()).await.unwrap();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(next(&mut sub).await.position);
        }
        assert_eq!(seen, vec![3, 4, 5]);
        // Live: appended after the subscriber caught up.
        let writer = s.clone();
        let appender = tokio::spawn(async move { support::fill(&writer, 20).await });
        for expected in 6..=25 {
            assert_eq!(next(&mut sub).await.position, expected);
        }
        appender.await.unwrap();
        // Nothing more arrives.
        assert!(tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err());
    }
);

on_both_backends!(
    a_filtered_subscription_skips_other_events,
    |t: support::TestStore| async move {
        let s = t.store.clone();
        let mut sub = s
            .subscribe(
                1,
                ReadFilter {
                    categories: vec!["server".into()],
                    event_types: vec![],
                },
            )
            .await
            .unwrap();
        s.append(append_one(
            "user-1",
            ExpectedVersion::Any,
            event("user.invited", json!({})),
        ))
        .await
        .unwrap();
        s.append(append_one(
            "server-1",
            ExpectedVersion::Any,
            event("server.registered", json!({})),
        ))
        .await
        .unwrap();
        s.append(append_one(
            "user-2",
            ExpectedVersion::Any,
            event("user.invited", json!({})),
        ))
        .await
        .unwrap();
        s.append(append_one(
            "server-2",
            ExpectedVersion::Any,
            event("server.registered", json!({})),
        ))
        .await
        .unwrap();
        assert_eq!(next(&mut sub).await.position, 2);
        assert_eq!(next(&mut sub).await.position, 4);
    }
);

on_both_backends!(a_fresh_log_verifies, |t: support::TestStore| async move {
    support::fill(&t.store, 50).await;
    let verified = verify_store(t.store.clone(), None, |_| {}).await.unwrap();
    assert_eq!(verified.events, 50);
    assert_eq!(verified.last_hash, t.store.head().await.unwrap().hash);
});

async fn next(sub: &mut portal_ledger::store::Subscription) -> portal_ledger::event::RecordedEvent {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an event within 10 s")
        .expect("subscription open")
        .expect("no error")
}
