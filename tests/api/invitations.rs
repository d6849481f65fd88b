//! Invitations over HTTP on both backends: inviting users and tenants,
//! resending, revoking, accepting (a partner's customer signing up).

use crate::support;

use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};

on_both_backends!(invitations_over_http, |t: support::TestStore| async move {
    let api = TestApi::builder().with_connect_info().spawn(&t).await;
    let (root, me) = api
        .session("root@platform.example", &api.root_password)
        .await;
    let platform = me["account_id"].as_str().unwrap().to_owned();
    let invitations = format!("/v1/accounts/{platform}/invitations");
    let code_for = |to: &str| {
        let mail = api
            .mail
            .sent()
            .into_iter()
            .rev()
            .find(|e| e.to == to)
            .unwrap();
        mail.body
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap()
            .trim()
            .to_owned()
    };

    let first: Value = api
        .server
        .post_as(&root, &invitations)
        .json(&json!({ "email": "Invitee@platform.example", "role": "support" }))
        .await
        .json();
    let second: Value = api
        .server
        .post_as(&root, &invitations)
        .json(&json!({ "email": "invitee@platform.example", "role": "read-only" }))
        .await
        .json();
    let listed: Value = api
        .server
        .get_as(
            &root,
            &format!("{invitations}?position={}", second["position"]),
        )
        .await
        .json();
    let rows = listed["invitations"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["status"] == "pending"
        && r["signup_completed"] == false
        && r["user_created"] == false));

    // Signing up with the first invitation's code (sent last to that address
    // is the second; take the first e-mail for the first invitation).
    let codes: Vec<String> = api
        .mail
        .sent()
        .iter()
        .filter(|e| e.to.eq_ignore_ascii_case("invitee@platform.example"))
        .map(|e| {
            e.body
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(codes.len(), 2);
    let accepted = api
        .server
        .post("/v1/invitations/accept")
        .json(&json!({ "code": codes[0], "name": "In Vitee", "password": "invitee password" }))
        .await;
    assert_eq!(accepted.status_code(), 201, "{}", accepted.text());
    let accepted: Value = accepted.json();
    let listed: Value = api
        .server
        .get_as(
            &root,
            &format!("{invitations}?position={}", accepted["position"]),
        )
        .await
        .json();
    let rows = listed["invitations"].as_array().unwrap();
    let by_id = |id: &Value| {
        rows.iter()
            .find(|r| r["invitation_id"] == *id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(&first["invitation_id"])["signup_completed"], true);
    assert_eq!(by_id(&second["invitation_id"])["signup_completed"], false);
    assert!(rows.iter().all(|r| r["user_created"] == true));
    api.session("invitee@platform.example", "invitee password")
        .await;

    // The second invitation can no longer be used (the address is taken);
    // revoke it; codes are single-use.
    let taken = api
        .server
        .post("/v1/invitations/accept")
        .json(&json!({ "code": codes[1], "name": "Again", "password": "invitee password" }))
        .expect_failure()
        .await;
    assert_eq!(taken.status_code(), 409);
    assert_eq!(error_code(&taken), "email_taken");
    let revoked = api
        .server
        .post_as(
            &root,
            &format!(
                "/v1/invitations/{}/revoke",
                second["invitation_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(revoked.status_code(), 200, "{}", revoked.text());
    let reused = api
        .server
        .post("/v1/invitations/accept")
        .json(&json!({ "code": codes[0], "name": "Again", "password": "invitee password" }))
        .expect_failure()
        .await;
    assert_eq!(reused.status_code(), 404);
    assert_eq!(error_code(&reused), "invalid_invitation");

    // A partner invitation, then the resend of a fresh one.
    let partner: Value = api
        .server.post_as(&root, &invitations)
        .json(&json!({ "email": "boss@reseller.example", "tenant": { "kind": "partner", "name": "Reseller Ltd" } }))
        .await
        .json();
    let old_code = code_for("boss@reseller.example");
    api.server
        .post_as(
            &root,
            &format!(
                "/v1/invitations/{}/resend",
                partner["invitation_id"].as_str().unwrap()
            ),
        )
        .await
        .assert_status_ok();
    let new_code = code_for("boss@reseller.example");
    assert_ne!(old_code, new_code);
    let signed_up: Value = api
        .server
        .post("/v1/invitations/accept")
        .json(&json!({ "code": new_code, "name": "Bo", "password": "reseller password" }))
        .await
        .json();
    assert_ne!(signed_up["account_id"], platform);

    let both = api
        .server.post_as(&root, &invitations)
        .json(&json!({ "email": "x@platform.example", "role": "support", "tenant": { "kind": "partner", "name": "X" } }))
        .expect_failure()
        .await;
    assert_eq!(both.status_code(), 422);
    assert_eq!(error_code(&both), "role_or_tenant");
});

on_both_backends!(
    a_partner_invites_a_customer_organization_over_http,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let (root, _) = api
            .session("root@platform.example", &api.root_password)
            .await;
        let (partner_id, _, _) = api
            .invite_partner(
                &root,
                "Reseller",
                "boss@reseller.example",
                "reseller password",
            )
            .await;
        let (boss, _) = api
            .session("boss@reseller.example", "reseller password")
            .await;

        // A partner may invite organizations, not partners.
        let invitations = format!("/v1/accounts/{partner_id}/invitations");
        let refused = api
            .server.post_as(&boss, &invitations)
            .json(&json!({ "email": "cto@acme.example", "tenant": { "kind": "partner", "name": "Acme" } }))
            .expect_failure()
            .await;
        assert!(refused.status_code().is_client_error());
        let invited = api
            .server.post_as(&boss, &invitations)
            .json(&json!({ "email": "cto@acme.example", "tenant": { "kind": "organization", "name": "Acme Corp" } }))
            .await;
        assert_eq!(invited.status_code(), 201, "{}", invited.text());
        let mail = api
            .mail
            .sent()
            .into_iter()
            .rev()
            .find(|m| m.to == "cto@acme.example")
            .unwrap();
        let code = mail
            .body
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap()
            .trim()
            .to_owned();

        // Accepting creates the organization (the partner's customer) and
        // its first admin.
        let signed_up = api
            .server
            .post("/v1/invitations/accept")
            .json(&json!({ "code": code, "name": "Cleo CTO", "password": "acme long password" }))
            .await;
        assert_eq!(signed_up.status_code(), 201, "{}", signed_up.text());
        let signed_up: Value = signed_up.json();
        let org_id = signed_up["account_id"].as_str().unwrap().to_owned();
        assert_ne!(org_id, partner_id);
        let (cto, _) = api.session("cto@acme.example", "acme long password").await;
        let me: Value = api.server.get_as(&cto, "/v1/me").await.json();
        assert_eq!(me["account_id"], org_id.as_str());
        assert_eq!(me["role"], "admin");
        assert_eq!(me["user_id"], signed_up["user_id"]);
        let position = signed_up["position"].as_u64().unwrap();
        let org: Value = api
            .server
            .get_as(&cto, &format!("/v1/accounts/{org_id}?position={position}"))
            .await
            .json();
        assert_eq!(org["kind"], "organization");
        assert_eq!(org["name"], "Acme Corp");
        assert_eq!(org["parent_id"], partner_id.as_str());
        // The new admin manages their organization; the partner sees its
        // new customer.
        api.server.post_as(&cto, &format!("/v1/accounts/{org_id}/users"))
            .json(&json!({ "email": "dev@acme.example", "name": "Dev", "role": "regular", "password": "dev long password" }))
            .await
            .assert_status(axum::http::StatusCode::CREATED);
        api.server
            .get_as(&boss, &format!("/v1/accounts/{org_id}"))
            .await
            .assert_status_ok();
        // The code worked once.
        let reused = api
            .server
            .post("/v1/invitations/accept")
            .json(&json!({ "code": code, "name": "Again", "password": "acme long password" }))
            .expect_failure()
            .await;
        assert_eq!(error_code(&reused), "invalid_invitation");
    }
);
