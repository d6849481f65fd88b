//! The event catalog over HTTP, on both backends: every type with its
//! current schema version, action types and a JSON Schema per version;
//! new events are appended at the current version.

use crate::support;

use serde_json::{json, Value};
use support::http::{answer, AsCaller, TestApi};
use support::world::World;

on_both_backends!(
    the_catalog_publishes_every_event_type,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let root = api.root().await;
        let catalog: Value = api.server.get_as(&root, "/v1/event-types").await.json();
        let types = catalog["event_types"].as_array().unwrap();
        assert!(types.len() > 60, "{}", types.len());
        let entry = |name: &str| {
            types
                .iter()
                .find(|e| e["event_type"] == name)
                .unwrap_or_else(|| panic!("{name} is not listed"))
                .clone()
        };
        let registered = entry("server.registered");
        assert_eq!(registered["schema_version"], 2);
        assert_eq!(registered["action_types"], json!(["Update Server"]));
        assert_eq!(registered["changes"][0]["version"], 2);
        assert_eq!(
            registered["schemas"]["1"]["properties"]["partner_access"]["type"],
            "boolean"
        );
        assert!(registered["schemas"]["2"]["properties"]["partner_access"].is_object());
        assert_eq!(entry("user.created")["schema_version"], 1);
        assert_eq!(
            entry("checkpoint.signed")["schemas"]["1"]["properties"]["head_hash"]["type"],
            "string"
        );

        let one: Value = api
            .server
            .get_as(
                &root,
                "/v1/event-types/server.partner_access_granted/schemas/2",
            )
            .await
            .json();
        assert!(one["properties"]["until"].is_object(), "{one}");
        for (path, expected) in [
            (
                "/v1/event-types/server.registered/schemas/3",
                (404, "unknown_schema_version"),
            ),
            (
                "/v1/event-types/server.registered/schemas/0",
                (400, "invalid_schema_version"),
            ),
            (
                "/v1/event-types/server.registered/schemas/two",
                (400, "invalid_schema_version"),
            ),
            (
                "/v1/event-types/no.such/schemas/1",
                (404, "unknown_event_type"),
            ),
        ] {
            let response = api.server.get_as(&root, path).expect_failure().await;
            assert_eq!(
                answer(&response),
                (expected.0, expected.1.to_owned()),
                "{path}"
            );
        }
        let anonymous = api.server.get("/v1/event-types").expect_failure().await;
        assert_eq!(anonymous.status_code(), 401);
    }
);

on_both_backends!(
    new_events_are_appended_at_their_current_version,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let made: Value = api
            .server
            .post_as(
                &w.customer_owner.token,
                &format!("/v1/accounts/{}/servers", w.customer),
            )
            .json(&json!({ "name": "Lobby wall", "partner_access": true }))
            .await
            .json();
        let position = made["position"].as_u64().unwrap();
        let events = t
            .store
            .read_all(position, 1, &portal_ledger::store::ReadFilter::all())
            .await
            .unwrap();
        let registered = &events[0];
        assert_eq!(registered.event_type.as_str(), "server.registered");
        assert_eq!(registered.schema_version, 2);
        assert_eq!(
            registered.payload.to_value()["partner_access"],
            json!({ "granted": true, "until": null })
        );
    }
);
