//! Support tickets over HTTP on both backends.

use crate::support;

use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};

on_both_backends!(tickets_over_http, |t: support::TestStore| async move {
    let api = TestApi::builder().with_connect_info().spawn(&t).await;
    let (root, me) = api
        .session("root@platform.example", &api.root_password)
        .await;
    let platform = me["account_id"].as_str().unwrap().to_owned();
    let opened: Value = api
        .server
        .post_as(&root, &format!("/v1/accounts/{platform}/tickets"))
        .json(&json!({ "subject": "Wall 1 is dark", "description": "Since 9am" }))
        .await
        .json();
    let ticket = opened["ticket_id"].as_str().unwrap().to_owned();
    api.server
        .patch_as(&root, &format!("/v1/tickets/{ticket}"))
        .json(&json!({ "comment": "rebooted, still dark" }))
        .await
        .assert_status_ok();
    let closed: Value = api
        .server
        .post_as(&root, &format!("/v1/tickets/{ticket}/close"))
        .json(&json!({ "resolution": "cable replaced" }))
        .await
        .json();
    let again = api
        .server
        .post_as(&root, &format!("/v1/tickets/{ticket}/close"))
        .json(&json!({ "resolution": "twice" }))
        .expect_failure()
        .await;
    assert_eq!(error_code(&again), "ticket_closed");
    let listed: Value = api
        .server
        .get_as(
            &root,
            &format!(
                "/v1/accounts/{platform}/tickets?position={}",
                closed["position"]
            ),
        )
        .await
        .json();
    let row = &listed["tickets"][0];
    assert_eq!(row["status"], "closed");
    assert_eq!(row["comment_count"], 1);
    assert_eq!(row["resolution"], "cable replaced");
});
