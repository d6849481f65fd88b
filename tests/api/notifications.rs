//! The notification outbox over HTTP on both backends: digests.

use crate::support;

use chrono::Utc;
use serde_json::{json, Value};
use support::http::{AsCaller, TestApi};

on_both_backends!(
    digests_appear_in_the_outbox,
    |t: support::TestStore| async move {
        // Every event below falls on the day the digest counts.
        support::clear_of_utc_midnight().await;
        use chrono::{Datelike, Duration, TimeZone};
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let (root, me) = api
            .session("root@platform.example", &api.root_password)
            .await;
        let platform = me["account_id"].as_str().unwrap().to_owned();
        let root_id = me["user_id"].as_str().unwrap().to_owned();
        api.server.post_as(&root, &format!("/v1/accounts/{platform}/users"))
            .json(&json!({ "email": "new@platform.example", "name": "New", "role": "support", "password": "long enough pw" }))
            .await
            .assert_status(axum::http::StatusCode::CREATED);
        let set = api
            .server
            .put_as(
                &root,
                &format!("/v1/users/{root_id}/notification-preferences"),
            )
            .json(&json!({ "frequency": "daily", "categories": ["users"] }))
            .await;
        assert_eq!(set.status_code(), 200, "{}", set.text());
        let position = set.json::<Value>()["position"].as_u64().unwrap();
        assert!(
            api.projections
                .wait_for(position, support::PROJECTION_WAIT)
                .await
        );

        // Tomorrow morning the digest sender runs (the clock is the test's).
        let tomorrow = Utc::now() + Duration::days(1);
        let tomorrow = Utc
            .with_ymd_and_hms(tomorrow.year(), tomorrow.month(), tomorrow.day(), 3, 0, 0)
            .unwrap();
        let source =
            portal_ledger::projection::read_models::ReadModels(api.projections.target().clone());
        assert_eq!(
            api.ledger().send_digests(tomorrow, &source).await.unwrap(),
            1
        );
        assert_eq!(
            api.ledger().send_digests(tomorrow, &source).await.unwrap(),
            0
        );
        let head = t.store.head().await.unwrap().position;
        let outbox: Value = api
            .server
            .get_as(
                &root,
                &format!("/v1/accounts/{platform}/outbox?position={head}"),
            )
            .await
            .json();
        let digests: Vec<&Value> = outbox["emails"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "digest")
            .collect();
        assert_eq!(digests.len(), 1, "{outbox}");
        assert_eq!(digests[0]["recipient"], "root@platform.example");
        assert!(
            digests[0]["subject"].as_str().unwrap().contains("Daily"),
            "{outbox}"
        );
        // Newest first: the digest heads the outbox.
        assert_eq!(outbox["emails"][0]["kind"], "digest");
    }
);
