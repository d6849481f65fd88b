//! Export and import: a round trip keeps positions and hashes, legacy
//! histories are numbered and hashed on the way in, and a bad file is
//! refused with its line number and nothing appended.

use crate::support;

use portal_ledger::event::RecordedEvent;
use portal_ledger::integrity::verify_store;
use portal_ledger::store::{ExpectedVersion, ReadFilter, SharedStore, StreamAppend};
use portal_ledger::transfer::export::export_ndjson;
use portal_ledger::transfer::import::{import_ndjson, ImportError};
use serde_json::json;
use support::{event, stream, Kind, TestStore};

async fn everything(store: &SharedStore) -> Vec<RecordedEvent> {
    store
        .read_all(1, 100_000, &ReadFilter::all())
        .await
        .unwrap()
}

async fn export(store: &SharedStore) -> String {
    let mut out = Vec::new();
    export_ndjson(store.clone(), 1, &mut out, |_| {})
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

/// A small but varied log: several streams, multi-stream appends, unicode,
/// numbers, metadata.
async fn varied_log(store: &SharedStore) {
    support::fill(store, 10).await;
    store
        .append(vec![
            StreamAppend::new(stream("org-1"), ExpectedVersion::NoStream, vec![event(
                "org.created",
                json!({"name": "Zürich AG", "seats": 10, "ratio": 0.25, "tags": ["a", "b"], "none": null}),
            )
            .with_metadata(
                portal_ledger::event::JsonObject::from_value("metadata", &json!({"actor": {"email": "root@example.com"}, "ip": "::1"}))
                    .unwrap(),
            )]),
            StreamAppend::new(stream("license-1"), ExpectedVersion::Any, vec![
                event("license.created", json!({"seats": 3})),
                event("seat.assigned", json!({"user": "u-1"})).with_schema_version(2),
            ]),
        ])
        .await
        .unwrap();
}

fn other(kind: Kind) -> Kind {
    match kind {
        Kind::Embedded => Kind::Postgres,
        Kind::Postgres => Kind::Embedded,
    }
}

on_both_backends!(
    export_then_import_gives_identical_positions_and_hashes,
    |t: TestStore| async move {
        varied_log(&t.store).await;
        let file = export(&t.store).await;
        assert_eq!(file.lines().count(), 13);
        let first: serde_json::Value = serde_json::from_str(file.lines().next().unwrap()).unwrap();
        let mut fields: Vec<&str> = first
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            vec![
                "event_id",
                "event_type",
                "hash",
                "metadata",
                "payload",
                "position",
                "prev_hash",
                "recorded_at",
                "schema_version",
                "stream_id",
                "stream_version"
            ]
        );
        assert_eq!(first["prev_hash"], json!("0".repeat(64)));

        // Into an empty store of the same kind and of the other kind.
        for kind in [t.kind, other(t.kind)] {
            let target = TestStore::new(kind).await;
            let imported = import_ndjson(
                target.backend.bulk(),
                std::io::Cursor::new(file.clone()),
                |_| {},
            )
            .await
            .unwrap();
            assert_eq!(imported.events, 13);
            assert_eq!(imported.head, 13);
            assert_eq!(everything(&target.store).await, everything(&t.store).await);
            assert_eq!(
                target.store.head().await.unwrap(),
                t.store.head().await.unwrap()
            );
            assert_eq!(export(&target.store).await, file);
            verify_store(target.store.clone(), None, |_| {})
                .await
                .unwrap();
            // The imported log takes appends where the original left off.
            let next = target
                .store
                .append(support::append_one(
                    "org-1",
                    ExpectedVersion::Exact(1),
                    event("org.updated", json!({})),
                ))
                .await
                .unwrap();
            assert_eq!(next.positions, vec![14]);
        }
    }
);

on_both_backends!(
    a_legacy_history_is_numbered_and_hashed,
    |t: TestStore| async move {
        let legacy = [
        r#"{"stream_id":"user-7","event_type":"user.invited","payload":{"email":"a@example.com"},"recorded_at":"2019-03-03T10:00:00Z"}"#,
        r#"{"stream_id":"user-7","event_type":"user.renamed","payload":{"name":"A"},"metadata":{"actor":"legacy"},"recorded_at":"2019-03-04T10:00:00.5Z"}"#,
        "",
        r#"{"stream_id":"server-1","event_type":"server.registered","payload":{},"event_id":"01900000-0000-7000-8000-000000000001","schema_version":2}"#,
        r#"{"stream_id":"user-7","stream_version":3,"event_type":"user.deleted","payload":{}}"#,
    ]
    .join("\n");
        let imported = import_ndjson(
            t.backend.bulk(),
            std::io::Cursor::new(legacy.clone()),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(imported.events, 4);
        let events = everything(&t.store).await;
        let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
        assert_eq!(positions, vec![1, 2, 3, 4]);
        let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, vec![1, 2, 1, 3]);
        assert_eq!(
            events[0].recorded_at.to_rfc3339(),
            "2019-03-03T10:00:00+00:00"
        );
        assert_eq!(events[1].metadata.as_str(), r#"{"actor":"legacy"}"#);
        assert_eq!(
            events[2].event_id.to_string(),
            "01900000-0000-7000-8000-000000000001"
        );
        assert_eq!(events[2].schema_version, 2);
        assert!(events[2].recorded_at > events[1].recorded_at);
        verify_store(t.store.clone(), None, |_| {}).await.unwrap();
    }
);

/// Imports `file` and expects it refused at `line`, with nothing appended.
async fn refused(t: &TestStore, file: &str, line: u64, reason_contains: &str) {
    let before = t.store.head().await.unwrap();
    match import_ndjson(
        t.backend.bulk(),
        std::io::Cursor::new(file.to_owned()),
        |_| {},
    )
    .await
    {
        Err(ImportError::BadLine { line: got, reason }) => {
            assert_eq!(got, line, "wrong line for: {reason}");
            assert!(
                reason.contains(reason_contains),
                "reason {reason:?} lacks {reason_contains:?}"
            );
        }
        other => panic!("import should be refused at line {line}, got {other:?}"),
    }
    assert_eq!(
        t.store.head().await.unwrap(),
        before,
        "a refused import appended something"
    );
}

on_both_backends!(
    a_corrupted_import_is_refused_with_its_line_number,
    |t: TestStore| async move {
        let source = TestStore::new(t.kind).await;
        varied_log(&source.store).await;
        let file = export(&source.store).await;
        let mut lines: Vec<String> = file.lines().map(str::to_owned).collect();

        // A changed payload byte on line 7.
        let mut changed = lines.clone();
        changed[6] = changed[6].replacen("example", "exbmple", 1);
        refused(&t, &changed.join("\n"), 7, "does not match its hash").await;

        // A removed line: line 5 now carries position 6.
        let mut removed = lines.clone();
        removed.remove(4);
        refused(&t, &removed.join("\n"), 5, "event missing").await;

        // Two lines swapped.
        let mut swapped = lines.clone();
        swapped.swap(2, 3);
        refused(&t, &swapped.join("\n"), 3, "event missing").await;

        // Malformed JSON, an unknown field, a partial envelope, a non-object payload.
        let mut malformed = lines.clone();
        malformed[9] = "{not json".into();
        refused(&t, &malformed.join("\n"), 10, "not a valid event line").await;
        let mut unknown = lines.clone();
        unknown[1] = unknown[1].replacen('{', r#"{"surprise":1,"#, 1);
        refused(&t, &unknown.join("\n"), 2, "unknown field").await;
        let partial =
            r#"{"stream_id":"user-1","event_type":"user.invited","payload":{},"position":1}"#;
        refused(&t, partial, 1, "missing event_id").await;
        let array_payload = r#"{"stream_id":"user-1","event_type":"user.invited","payload":[1]}"#;
        refused(&t, array_payload, 1, "must be a JSON object").await;
        // A legacy line going back in time after a chained one.
        lines.push(r#"{"stream_id":"user-1","event_type":"user.invited","payload":{},"recorded_at":"2001-01-01T00:00:00Z"}"#.into());
        refused(&t, &lines.join("\n"), 14, "earlier than the previous").await;
        // A duplicate event id.
        let dup = format!(
            "{}\n{}",
            r#"{"stream_id":"a-1","event_type":"x","payload":{},"event_id":"01900000-0000-7000-8000-000000000009"}"#,
            r#"{"stream_id":"a-2","event_type":"x","payload":{},"event_id":"01900000-0000-7000-8000-000000000009"}"#
        );
        refused(&t, &dup, 2, "appears twice").await;
        // A domain event at a schema version this service cannot read (a
        // newer service's): refused by line, nothing appended. Unknown
        // (legacy) types keep any version.
        let future = format!(
            "{}\n{}",
            r#"{"stream_id":"legacy-1","event_type":"legacy.thing","payload":{},"schema_version":7}"#,
            r#"{"stream_id":"server-1","event_type":"server.registered","payload":{},"schema_version":3}"#
        );
        refused(
            &t,
            &future,
            2,
            "schema_version 3 of server.registered is unknown here",
        )
        .await;
        let future =
            r#"{"stream_id":"user-1","event_type":"user.created","payload":{},"schema_version":2}"#;
        refused(&t, future, 1, "reads versions 1 to 1").await;

        // The same export imported twice: the second continues at position 14,
        // and its first line claims position 1.
        import_ndjson(t.backend.bulk(), std::io::Cursor::new(file.clone()), |_| {})
            .await
            .unwrap();
        refused(&t, &file, 1, "event missing").await;
    }
);

on_both_backends!(subscribers_see_imported_events, |t: TestStore| async move {
    let source = TestStore::new(t.kind).await;
    varied_log(&source.store).await;
    let file = export(&source.store).await;
    let mut subscription = t.store.subscribe(1, ReadFilter::all()).await.unwrap();
    import_ndjson(t.backend.bulk(), std::io::Cursor::new(file), |_| {})
        .await
        .unwrap();
    for expected in 1..=13 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), subscription.next())
            .await
            .expect("imported event delivered")
            .unwrap()
            .unwrap();
        assert_eq!(event.position, expected);
    }
});

on_both_backends!(
    numbers_the_canonical_form_would_change_are_refused_with_their_path,
    |t: TestStore| async move {
        // Integers beyond 2^53, 64-bit ids, more digits than a double
        // holds: each refused with its line and JSON path, nothing stored.
        for (number, path) in [
            ("12345678901234567890", "payload.amount"),
            ("9007199254740993", "payload.amount"),
            ("0.1000000000000000055511151231257827", "payload.amount"),
        ] {
            let file = [
                r#"{"stream_id":"invoice-1","event_type":"invoice.issued","payload":{"amount":1}}"#.to_owned(),
                format!(
                    r#"{{"stream_id":"invoice-1","event_type":"invoice.paid","payload":{{"amount":{number}}}}}"#
                ),
            ]
            .join("\n");
            refused(&t, &file, 2, path).await;
            refused(&t, &file, 2, "send it as a string").await;
        }
        let in_metadata = r#"{"stream_id":"invoice-1","event_type":"invoice.issued","payload":{},"metadata":{"ids":[1,18446744073709551615]}}"#;
        refused(&t, in_metadata, 1, "metadata.ids[1]").await;

        // Carried as strings, or as numbers a double holds, they come back
        // exactly as they went in.
        let file = [
            r#"{"stream_id":"invoice-1","event_type":"invoice.issued","payload":{"amount":"12345678901234567890","rate":0.1,"count":9007199254740992,"price":1.50}}"#,
        ]
        .join("\n");
        import_ndjson(t.backend.bulk(), std::io::Cursor::new(file), |_| {})
            .await
            .unwrap();
        let events = everything(&t.store).await;
        assert_eq!(
            events[0].payload.as_str(),
            r#"{"amount":"12345678901234567890","count":9007199254740992,"price":1.5,"rate":0.1}"#
        );
        let exported = export(&t.store).await;
        assert!(
            exported.contains(r#""amount":"12345678901234567890""#),
            "{exported}"
        );
    }
);
