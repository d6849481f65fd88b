//! Licenses over HTTP on both backends: subscriptions, seats, assignment
//! and release, cancellation.

use crate::support;

use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};

on_both_backends!(licenses_over_http, |t: support::TestStore| async move {
    let api = TestApi::builder().with_connect_info().spawn(&t).await;
    let (root, _) = api
        .session("root@platform.example", &api.root_password)
        .await;
    let org: Value = api
        .server
        .post_as(&root, "/v1/accounts")
        .json(&json!({ "kind": "organization", "name": "Direct Customer" }))
        .await
        .json();
    let org_id = org["account_id"].as_str().unwrap().to_owned();
    let users_path = format!("/v1/accounts/{org_id}/users");
    let mut ids = Vec::new();
    for (email, role) in [
        ("admin@direct.example", "admin"),
        ("a@direct.example", "regular"),
        ("b@direct.example", "regular"),
        ("c@direct.example", "support"),
    ] {
        let created: Value = api
            .server.post_as(&root, &users_path)
            .json(&json!({ "email": email, "name": email, "role": role, "password": "direct password" }))
            .await
            .json();
        ids.push(created["user_id"].as_str().unwrap().to_owned());
    }
    let (admin, _) = api.session("admin@direct.example", "direct password").await;
    let license: Value = api
        .server
        .post_as(&admin, &format!("/v1/accounts/{org_id}/licenses"))
        .json(&json!({ "product": "Pro", "seats": 2 }))
        .await
        .json();
    let license_id = license["license_id"].as_str().unwrap().to_owned();
    let assigned: Value = api
        .server
        .post_as(&admin, &format!("/v1/licenses/{license_id}/assignments"))
        .json(&json!({ "user_ids": [ids[1], ids[2]] }))
        .await
        .json();
    let full = api
        .server
        .post_as(&admin, &format!("/v1/licenses/{license_id}/assignments"))
        .json(&json!({ "user_ids": [ids[3]] }))
        .expect_failure()
        .await;
    assert_eq!(full.status_code(), 409);
    assert_eq!(error_code(&full), "not_enough_seats");

    let holders: Value = api
        .server
        .get_as(
            &admin,
            &format!(
                "{users_path}?license={license_id}&position={}",
                assigned["position"]
            ),
        )
        .await
        .json();
    let emails: Vec<&str> = holders["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["a@direct.example", "b@direct.example"]);
    let listed: Value = api
        .server
        .get_as(
            &admin,
            &format!(
                "/v1/accounts/{org_id}/licenses?position={}",
                assigned["position"]
            ),
        )
        .await
        .json();
    assert_eq!(listed["licenses"][0]["assigned_count"], 2);

    // Support sees no billing data.
    let (support, _) = api.session("c@direct.example", "direct password").await;
    let denied = api
        .server
        .get_as(&support, &format!("/v1/accounts/{org_id}/licenses"))
        .expect_failure()
        .await;
    assert_eq!(denied.status_code(), 403);
    let below = api
        .server
        .put_as(&admin, &format!("/v1/licenses/{license_id}/seats"))
        .json(&json!({ "seats": 1 }))
        .expect_failure()
        .await;
    assert_eq!(error_code(&below), "seats_in_use");
});
