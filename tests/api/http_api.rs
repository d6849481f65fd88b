//! What every route shares, end to end against a server on a real
//! loopback port (with the client's address, as `serve` runs it), on both
//! backends: a new API user's walk from sign-in through tenants and users,
//! the error shape for bad input, idempotency keys, the OpenAPI document
//! covering every route, the request's context and the grants in force in
//! the stored metadata. Each resource's own behaviour is in its file.

use crate::support;

use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};

on_both_backends!(
    a_portal_back_end_walks_through_tenants_and_users,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let (root, me) = api
            .session("root@platform.example", &api.root_password)
            .await;
        let platform = me["account_id"].as_str().unwrap().to_owned();

        // The platform creates a partner and its first admin.
        let (partner_id, _, _) = api
            .invite_partner(
                &root,
                "Reseller Ltd",
                "boss@reseller.example",
                "reseller password",
            )
            .await;

        // The partner admin signs in, creates a customer organization and a user there.
        let (boss, _) = api
            .session("boss@reseller.example", "reseller password")
            .await;
        let me: Value = api.server.get_as(&boss, "/v1/me").await.json();
        assert_eq!(me["role"], "admin");
        let org: Value = api
            .server
            .post_as(&boss, "/v1/accounts")
            .json(&json!({ "kind": "organization", "name": "Customer GmbH" }))
            .await
            .json();
        let org_id = org["account_id"].as_str().unwrap().to_owned();
        let user: Value = api
        .server.post_as(&boss, &format!("/v1/accounts/{org_id}/users"))
        .json(&json!({ "email": "ops@customer.example", "name": "Olga Ops", "role": "regular", "password": "customer password" }))
        .await
        .json();
        let user_id = user["user_id"].as_str().unwrap().to_owned();

        // Read your own write: the list waits for the returned position.
        let position = user["position"].as_u64().unwrap();
        let listed: Value = api
            .server
            .get_as(
                &boss,
                &format!("/v1/accounts/{org_id}/users?position={position}"),
            )
            .await
            .json();
        let users = listed["users"].as_array().unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0]["email"], "ops@customer.example");
        assert_eq!(users[0]["role"], "regular");

        // Change the role, rename, then read the user back.
        let changed: Value = api
            .server
            .put_as(&boss, &format!("/v1/users/{user_id}/role"))
            .json(&json!({ "role": "Read-Only" }))
            .await
            .json();
        api.server
            .patch_as(&boss, &format!("/v1/users/{user_id}"))
            .json(&json!({ "name": "Olga O." }))
            .await
            .assert_status_ok();
        let shown: Value = api
            .server
            .get_as(
                &boss,
                &format!("/v1/users/{user_id}?position={}", changed["position"]),
            )
            .await
            .json();
        assert_eq!(shown["role"], "read-only");

        // The customer's user signs in; a force logout ends that session at once.
        let (ops, _) = api
            .session("ops@customer.example", "customer password")
            .await;
        api.server.get_as(&ops, "/v1/me").await.assert_status_ok();
        api.server
            .post_as(&boss, &format!("/v1/users/{user_id}/logout"))
            .await
            .assert_status_ok();
        let after = api.server.get_as(&ops, "/v1/me").expect_failure().await;
        assert_eq!(after.status_code(), 401);
        assert_eq!(error_code(&after), "unauthenticated");

        // Delete and restore.
        api.server
            .delete_as(&boss, &format!("/v1/users/{user_id}"))
            .await
            .assert_status_ok();
        let restored: Value = api
            .server
            .post_as(&boss, &format!("/v1/users/{user_id}/restore"))
            .await
            .json();

        // The activity log of the organization shows each command once, newest first.
        let activity: Value = api
            .server
            .get_as(
                &boss,
                &format!(
                    "/v1/accounts/{org_id}/activity?position={}",
                    restored["position"]
                ),
            )
            .await
            .json();
        let entries = activity["entries"].as_array().unwrap();
        let types: Vec<&str> = entries
            .iter()
            .map(|e| e["action_type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(types[0], "Restore User");
        assert!(types.contains(&"Delete User"));
        assert!(types.contains(&"Force Logout"));
        assert!(types.contains(&"Update User Groups"));
        assert!(entries.iter().all(|e| e["account_id"] == org_id));
        assert_eq!(entries[0]["actor_email"], "boss@reseller.example");
        assert_eq!(entries[0]["on_behalf_of"], org_id);

        // Tenant isolation: the customer's admin-less user cannot see the partner;
        // another partner cannot see this customer (404, not 403).
        let (ops, _) = api
            .session("ops@customer.example", "customer password")
            .await;
        let hidden = api
            .server
            .get_as(&ops, &format!("/v1/accounts/{partner_id}/users"))
            .expect_failure()
            .await;
        assert_eq!(hidden.status_code(), 404);
        let forbidden = api
        .server.post_as(&ops, &format!("/v1/accounts/{org_id}/users"))
        .json(&json!({ "email": "x@customer.example", "name": "X", "role": "admin", "password": "some password" }))
        .expect_failure()
        .await;
        assert_eq!(forbidden.status_code(), 403);
        assert_eq!(error_code(&forbidden), "forbidden");
        let _ = platform;
    }
);

on_both_backends!(
    bad_input_gets_precise_errors_and_appends_nothing,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let (root, me) = api
            .session("root@platform.example", &api.root_password)
            .await;
        let platform = me["account_id"].as_str().unwrap().to_owned();
        let head = t.store.head().await.unwrap();
        let users = format!("/v1/accounts/{platform}/users");

        let cases: Vec<(axum_test::TestRequest, u16, &str)> = vec![
        (api.server.post_as(&root, &users).content_type("application/json").bytes("{not json".into()), 400, "invalid_json"),
        (api.server.post_as(&root, &users).json(&json!({ "email": "a@platform.example", "name": "A", "role": "admin", "password": "long enough pw", "extra": 1 })), 400, "invalid_body"),
        (api.server.post_as(&root, &users).json(&json!({ "email": "a@platform.example" })), 400, "invalid_body"),
        (api.server.post_as(&root, &users).json(&json!({ "email": "not-an-email", "name": "A", "role": "admin", "password": "long enough pw" })), 422, "invalid_email"),
        (api.server.post_as(&root, &users).json(&json!({ "email": "a@platform.example", "name": "A", "role": "owner", "password": "long enough pw" })), 422, "unknown_role"),
        (api.server.post_as(&root, &users).json(&json!({ "email": "a@platform.example", "name": "A", "role": "sales", "password": "long enough pw" })), 422, "role_not_in_account_kind"),
        (api.server.post_as(&root, &users).json(&json!({ "email": "a@platform.example", "name": "A", "role": "admin", "password": "short" })), 422, "invalid_password"),
        (api.server.post_as(&root, &users).json(&json!({ "email": "root@platform.example", "name": "A", "role": "admin", "password": "long enough pw" })), 409, "email_taken"),
        (api.server.post_as(&root, &users).json(&json!({ "email": "a@platform.example", "name": "x".repeat(70_000), "role": "admin", "password": "long enough pw" })), 413, "body_too_large"),
        (api.server.post_as(&root, &users).text("email=a"), 415, "not_json"),
        (api.server.post(&users).json(&json!({ "email": "a@platform.example", "name": "A", "role": "admin", "password": "long enough pw" })), 401, "unauthenticated"),
        (api.server.post_as("bogus.token", &users).json(&json!({})), 401, "unauthenticated"),
        (api.server.post("/v1/sessions").json(&json!({ "email": "root@platform.example", "password": "wrong password" })), 401, "invalid_credentials"),
        (api.server.get_as(&root, "/v1/accounts/00000000-0000-7000-8000-000000000000/users"), 404, "not_found"),
        (api.server.get_as(&root, "/v1/users/not-a-uuid"), 400, "invalid_path"),
        (api.server.get_as(&root, &format!("/v1/accounts/{platform}/users?position=soon")), 400, "invalid_query"),
        (api.server.get("/v1/nowhere"), 404, "not_found"),
        (api.server.post_as(&root, &users).add_header("X-Causation-Id", "because").json(&json!({ "email": "a@platform.example", "name": "A", "role": "admin", "password": "long enough pw" })), 400, "invalid_causation_id"),
        (api.server.post_as(&root, &users).add_header("X-Correlation-Id", "c-1").json(&json!({ "email": "a@platform.example", "name": "A", "role": "admin", "password": "long enough pw" })), 400, "invalid_correlation_id"),
        (api.server.post("/v1/sessions").add_header("X-Causation-Id", "123").json(&json!({ "email": "root@platform.example", "password": "wrong password" })), 400, "invalid_causation_id"),
    ];
        for (index, (request, status, code)) in cases.into_iter().enumerate() {
            let response = request.expect_failure().await;
            assert_eq!(
                response.status_code(),
                status,
                "case {index}: {}",
                response.text()
            );
            assert_eq!(
                error_code(&response),
                code,
                "case {index}: {}",
                response.text()
            );
        }
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused request appended something"
        );
    }
);

on_both_backends!(
    idempotency_keys_make_retries_safe,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let (root, me) = api
            .session("root@platform.example", &api.root_password)
            .await;
        let platform = me["account_id"].as_str().unwrap().to_owned();
        let users = format!("/v1/accounts/{platform}/users");
        let body = json!({ "email": "once@platform.example", "name": "Once", "role": "support", "password": "long enough pw" });

        let first = api
            .server
            .post_as(&root, &users)
            .add_header("Idempotency-Key", "create-once-1")
            .json(&body)
            .await;
        assert_eq!(first.status_code(), 201);
        let head = t.store.head().await.unwrap();
        let retry = api
            .server
            .post_as(&root, &users)
            .add_header("Idempotency-Key", "create-once-1")
            .json(&body)
            .await;
        assert_eq!(retry.status_code(), 201);
        assert_eq!(retry.text(), first.text());
        assert_eq!(retry.header("idempotent-replayed"), "true");
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a retried request appended"
        );

        // The same key for another request is refused; without a key, the
        // duplicate is a conflict of the domain.
        let other = json!({ "email": "twice@platform.example", "name": "Twice", "role": "support", "password": "long enough pw" });
        let reused = api
            .server
            .post_as(&root, &users)
            .add_header("Idempotency-Key", "create-once-1")
            .json(&other)
            .expect_failure()
            .await;
        assert_eq!(reused.status_code(), 422);
        assert_eq!(error_code(&reused), "idempotency_key_reused");
        let duplicate = api
            .server
            .post_as(&root, &users)
            .json(&body)
            .expect_failure()
            .await;
        assert_eq!(error_code(&duplicate), "email_taken");

        // A refused answer is remembered too (the retry gets the same 4xx).
        let bad = json!({ "email": "bad", "name": "Bad", "role": "support", "password": "long enough pw" });
        let refused = api
            .server
            .post_as(&root, &users)
            .add_header("Idempotency-Key", "bad-1")
            .json(&bad)
            .expect_failure()
            .await;
        let again = api
            .server
            .post_as(&root, &users)
            .add_header("Idempotency-Key", "bad-1")
            .json(&bad)
            .expect_failure()
            .await;
        assert_eq!(refused.status_code(), 422);
        assert_eq!(again.text(), refused.text());

        // Keys are per caller: another caller's same key is a new request.
        let (support_token, _) = api.session("once@platform.example", "long enough pw").await;
        let elsewhere = api
        .server.put_as(&support_token, "/v1/me/password")
        .add_header("Idempotency-Key", "create-once-1")
        .json(&json!({ "current_password": "long enough pw", "new_password": "an even longer pw" }))
        .await;
        assert_eq!(elsewhere.status_code(), 204);
        let invalid = api
            .server
            .post_as(&root, &users)
            .add_header("Idempotency-Key", "has space")
            .json(&body)
            .expect_failure()
            .await;
        assert_eq!(error_code(&invalid), "invalid_idempotency_key");
    }
);

/// Every route the router serves, with its method (kept beside the router's
/// list: a route added there and not documented fails here).
/// The operations that need no session.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/log/head"),
    ("get", "/v1/checkpoints"),
    ("get", "/v1/checkpoints/public-key"),
    ("post", "/v1/sessions"),
    ("post", "/v1/invitations/accept"),
    ("get", "/v1/proofs/inclusion"),
    ("get", "/v1/proofs/consistency"),
];

const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/log/head"),
    ("post", "/v1/sessions"),
    ("delete", "/v1/sessions/current"),
    ("get", "/v1/me"),
    ("put", "/v1/me/password"),
    ("post", "/v1/accounts"),
    ("get", "/v1/accounts/{account_id}"),
    ("patch", "/v1/accounts/{account_id}"),
    ("delete", "/v1/accounts/{account_id}"),
    ("put", "/v1/accounts/{account_id}/owner"),
    ("get", "/v1/accounts/{account_id}/users"),
    ("post", "/v1/accounts/{account_id}/users"),
    ("post", "/v1/accounts/{account_id}/users/import"),
    ("get", "/v1/accounts/{account_id}/activity"),
    ("get", "/v1/accounts/{account_id}/invitations"),
    ("post", "/v1/accounts/{account_id}/invitations"),
    ("get", "/v1/accounts/{account_id}/licenses"),
    ("post", "/v1/accounts/{account_id}/licenses"),
    ("put", "/v1/licenses/{license_id}/seats"),
    ("post", "/v1/licenses/{license_id}/assignments"),
    ("post", "/v1/licenses/{license_id}/releases"),
    ("post", "/v1/licenses/{license_id}/cancel"),
    ("get", "/v1/accounts/{account_id}/servers"),
    ("post", "/v1/accounts/{account_id}/servers"),
    ("patch", "/v1/servers/{server_id}"),
    ("delete", "/v1/servers/{server_id}"),
    ("put", "/v1/servers/{server_id}/partner-access"),
    ("post", "/v1/servers/{server_id}/actions"),
    ("put", "/v1/servers/{server_id}/configuration"),
    ("post", "/v1/servers/{server_id}/backups"),
    (
        "post",
        "/v1/servers/{server_id}/backups/{backup_id}/restore",
    ),
    ("get", "/v1/accounts/{account_id}/tickets"),
    ("post", "/v1/accounts/{account_id}/tickets"),
    ("patch", "/v1/tickets/{ticket_id}"),
    ("post", "/v1/tickets/{ticket_id}/close"),
    ("put", "/v1/servers/{server_id}/license"),
    ("get", "/v1/accounts/{account_id}/quotes"),
    ("post", "/v1/accounts/{account_id}/quotes"),
    ("get", "/v1/quotes/{quote_id}"),
    ("patch", "/v1/quotes/{quote_id}"),
    ("post", "/v1/quotes/{quote_id}/send"),
    ("post", "/v1/quotes/{quote_id}/withdraw"),
    ("post", "/v1/quotes/{quote_id}/accept"),
    ("post", "/v1/quotes/{quote_id}/decline"),
    ("get", "/v1/partner-kit"),
    ("post", "/v1/partner-kit"),
    ("patch", "/v1/partner-kit/{item_id}"),
    ("delete", "/v1/partner-kit/{item_id}"),
    ("post", "/v1/invitations/accept"),
    ("post", "/v1/invitations/{invitation_id}/resend"),
    ("post", "/v1/invitations/{invitation_id}/revoke"),
    ("get", "/v1/users/{user_id}"),
    ("patch", "/v1/users/{user_id}"),
    ("delete", "/v1/users/{user_id}"),
    ("put", "/v1/users/{user_id}/role"),
    ("put", "/v1/users/{user_id}/customers"),
    ("put", "/v1/users/{user_id}/notification-preferences"),
    ("post", "/v1/users/{user_id}/trusted-locations"),
    ("delete", "/v1/users/{user_id}/trusted-locations/{ip}"),
    ("get", "/v1/accounts/{account_id}/outbox"),
    ("get", "/v1/accounts/{account_id}/sessions"),
    ("get", "/v1/checkpoints"),
    ("get", "/v1/activity"),
    ("get", "/v1/activity/export"),
    ("get", "/v1/history/{entity_type}/{entity_id}"),
    ("get", "/v1/accounts/{account_id}/access"),
    ("get", "/v1/accounts/{account_id}/customers"),
    ("get", "/v1/accounts/{account_id}/staff"),
    ("get", "/v1/checkpoints/public-key"),
    ("get", "/v1/event-types"),
    ("get", "/v1/event-types/{event_type}/schemas/{version}"),
    ("post", "/v1/users/{user_id}/restore"),
    ("post", "/v1/users/{user_id}/logout"),
    ("post", "/v1/users/{user_id}/password-reset"),
    ("get", "/v1/accounts/{account_id}/service-accounts"),
    ("post", "/v1/accounts/{account_id}/service-accounts"),
    ("get", "/v1/service-accounts/{service_account_id}"),
    ("patch", "/v1/service-accounts/{service_account_id}"),
    ("delete", "/v1/service-accounts/{service_account_id}"),
    ("post", "/v1/service-accounts/{service_account_id}/keys"),
    (
        "delete",
        "/v1/service-accounts/{service_account_id}/keys/{key_id}",
    ),
    ("get", "/v1/proofs/inclusion"),
    ("get", "/v1/proofs/consistency"),
    ("get", "/v1/accounts/{account_id}/export/proven"),
];

on_both_backends!(
    the_openapi_document_describes_every_route,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let doc: Value = api.server.get("/openapi.json").await.json();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let paths = doc["paths"].as_object().unwrap();
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(documented, ROUTES.len(), "documented operations vs routes");
        for (method, path) in ROUTES {
            let operation = &paths[*path][*method];
            assert!(operation.is_object(), "{method} {path} is not documented");
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
            // A bearer token, unless the route is one of the public ones
            // (documented as `[{}]`: no requirement).
            let public = PUBLIC.contains(&(*method, *path));
            let security = if public {
                json!([{}])
            } else {
                json!([{ "bearer": [] }])
            };
            assert_eq!(operation["security"], security, "{method} {path}");
            // Every command documents the headers the service reads for it.
            if *method != "get" {
                let headers: Vec<&str> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "header")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for name in ["Idempotency-Key", "X-Correlation-Id", "X-Causation-Id"] {
                    assert!(
                        headers.contains(&name),
                        "{method} {path} lacks {name}: {headers:?}"
                    );
                }
            }
            // And the route really exists (a typo would reach the 404 fallback);
            // unauthenticated, every /v1 command or read is refused before work.
            // Public reads (the head, the checkpoints an auditor pins) answer
            // without a session.
            if !path.starts_with("/v1/")
                || [
                    "/v1/log/head",
                    "/v1/checkpoints",
                    "/v1/checkpoints/public-key",
                ]
                .contains(path)
            {
                continue;
            }
            for status in ["400", "401", "404"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{method} {path} documents no {status}"
                );
            }
            let concrete = path
                .replace("{account_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{user_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{license_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{invitation_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{server_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{ticket_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{quote_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{item_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{backup_id}", "b1")
                .replace("{entity_type}", "user")
                .replace("{entity_id}", "00000000-0000-7000-8000-000000000000");
            let request = match *method {
                "get" => api.server.get(&concrete),
                "post" => api.server.post(&concrete),
                "put" => api.server.put(&concrete),
                "patch" => api.server.patch(&concrete),
                _ => api.server.delete(&concrete),
            };
            let response = request.expect_failure().await;
            assert_ne!(response.status_code(), 404, "{method} {path} is not routed");
            if !public {
                assert_eq!(
                    response.status_code(),
                    401,
                    "{method} {path} without a token"
                );
            }
            assert_ne!(
                response.status_code(),
                405,
                "{method} {path}: method not allowed"
            );
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for schema in [
            "ErrorBody",
            "SignInRequest",
            "CreateUser",
            "UserCreated",
            "Appended",
            "CreateInvitation",
            "AccountKind",
        ] {
            assert!(schemas.contains_key(schema), "schema {schema} missing");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
);

on_both_backends!(
    a_requests_context_reaches_the_log_and_the_activity_log,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let (root, me) = api
            .session("root@platform.example", &api.root_password)
            .await;
        let platform = me["account_id"].as_str().unwrap().to_owned();
        let correlation = uuid::Uuid::now_v7();
        let cause = uuid::Uuid::now_v7();
        let created = api
            .server.post_as(&root, &format!("/v1/accounts/{platform}/users"))
            .add_header("User-Agent", "PortalBackEnd/2.1 (ops)")
            .add_header("X-Request-Id", "req-42")
            .add_header("X-Correlation-Id", correlation.to_string())
            .add_header("X-Causation-Id", cause.to_string())
            .json(&json!({ "email": "meta@platform.example", "name": "Meta", "role": "support", "password": "long enough pw" }))
            .await;
        assert_eq!(created.status_code(), 201, "{}", created.text());
        let created: Value = created.json();
        let user_id = created["user_id"].as_str().unwrap().to_owned();
        let position = created["position"].as_u64().unwrap();

        // The stored event: from where, with which ids (sealed at rest,
        // readable through the keys).
        let mut events = t
            .store
            .read_all(1, 100_000, &portal_ledger::store::ReadFilter::all())
            .await
            .unwrap();
        let raw = events
            .iter()
            .find(|e| {
                e.event_type.as_str() == "user.created" && e.stream_id.as_str().ends_with(&user_id)
            })
            .unwrap()
            .metadata
            .as_str()
            .to_owned();
        assert!(!raw.contains("PortalBackEnd"), "user agent in clear: {raw}");
        t.personal.open(&mut events).await.unwrap();
        let event = events
            .iter()
            .find(|e| {
                e.event_type.as_str() == "user.created" && e.stream_id.as_str().ends_with(&user_id)
            })
            .unwrap();
        let meta = event.metadata.to_value();
        assert_eq!(meta["ip"], "127.0.0.1");
        assert_eq!(meta["user_agent"], "PortalBackEnd/2.1 (ops)");
        assert_eq!(meta["request_id"], "req-42");
        assert_eq!(meta["correlation_id"], correlation.to_string());
        assert_eq!(meta["causation_id"], cause.to_string());
        assert_eq!(meta["actor"]["email"], "root@platform.example");
        assert_eq!(meta["authorization"]["role"], "admin");
        assert_eq!(meta["authorization"]["action"], "create_user");

        // Without the headers: a generated request id, a fresh correlation
        // id, no causation id.
        let sign_in = events
            .iter()
            .find(|e| e.event_type.as_str() == "session.opened")
            .unwrap()
            .metadata
            .to_value();
        assert_eq!(sign_in["ip"], "127.0.0.1");
        assert!(sign_in["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty()));
        assert!(sign_in["correlation_id"].as_str().is_some());
        assert!(sign_in["causation_id"].is_null());

        // The activity log shows the same.
        let page: Value = api
            .server.get_as(&root, &format!(
                "/v1/accounts/{platform}/activity?position={position}&target_type=user&target_id={user_id}"
            ))
            .await
            .json();
        // Creating with a password is two commands of one request: both
        // carry its context.
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{page}");
        for entry in entries {
            assert_eq!(entry["ip"], "127.0.0.1");
            assert_eq!(entry["user_agent"], "PortalBackEnd/2.1 (ops)");
            assert_eq!(entry["correlation_id"], correlation.to_string());
        }
        let entry = entries
            .iter()
            .find(|e| e["event_type"] == "user.created")
            .unwrap();
        assert_eq!(entry["action_type"], "Update User Profile", "{page}");
        assert_eq!(entry["ip"], "127.0.0.1");
        assert_eq!(entry["user_agent"], "PortalBackEnd/2.1 (ops)");
        assert_eq!(entry["correlation_id"], correlation.to_string());
        assert_eq!(entry["actor_email"], "root@platform.example");
    }
);

/// Every stored event, opened (personal fields readable).
async fn opened_log(t: &support::TestStore) -> Vec<portal_ledger::event::RecordedEvent> {
    let mut events = t
        .store
        .read_all(1, 100_000, &portal_ledger::store::ReadFilter::all())
        .await
        .unwrap();
    t.personal.open(&mut events).await.unwrap();
    events
}

fn last_of<'a>(
    events: &'a [portal_ledger::event::RecordedEvent],
    event_type: &str,
    stream_ends_with: &str,
) -> &'a portal_ledger::event::RecordedEvent {
    events
        .iter()
        .rev()
        .find(|e| {
            e.event_type.as_str() == event_type && e.stream_id.as_str().ends_with(stream_ends_with)
        })
        .unwrap_or_else(|| panic!("no {event_type} on …{stream_ends_with}"))
}

fn grant_event(basis: &str, event: &portal_ledger::event::RecordedEvent) -> Value {
    json!({ "basis": basis, "position": event.position, "event_id": event.event_id.to_string() })
}

on_both_backends!(
    the_metadata_names_the_grants_in_force,
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
        let org: Value = api
            .server
            .post_as(&boss, "/v1/accounts")
            .json(&json!({ "kind": "organization", "name": "Customer" }))
            .await
            .json();
        let org_id = org["account_id"].as_str().unwrap().to_owned();
        api.server.post_as(&boss, &format!("/v1/accounts/{org_id}/users"))
            .json(&json!({ "email": "it@customer.example", "name": "IT", "role": "admin", "password": "customer password" }))
            .await
            .assert_status(axum::http::StatusCode::CREATED);
        let (it, _) = api
            .session("it@customer.example", "customer password")
            .await;
        // Partner staff assigned to this customer.
        let staff: Value = api
            .server.post_as(&boss, &format!("/v1/accounts/{partner_id}/users"))
            .json(&json!({ "email": "staff@reseller.example", "name": "Staff", "role": "user", "password": "staff long password" }))
            .await
            .json();
        let staff_id = staff["user_id"].as_str().unwrap().to_owned();
        api.server
            .put_as(&boss, &format!("/v1/users/{staff_id}/customers"))
            .json(&json!({ "account_ids": [org_id] }))
            .await
            .assert_status_ok();
        let (staff, _) = api
            .session("staff@reseller.example", "staff long password")
            .await;

        // The customer registers a server without partner access, then
        // grants it.
        let server: Value = api
            .server
            .post_as(&it, &format!("/v1/accounts/{org_id}/servers"))
            .json(&json!({ "name": "wall-1", "partner_access": false }))
            .await
            .json();
        let server_id = server["server_id"].as_str().unwrap().to_owned();
        let refused = api
            .server
            .post_as(&staff, &format!("/v1/servers/{server_id}/actions"))
            .json(&json!({ "action": "files uploaded" }))
            .expect_failure()
            .await;
        assert_eq!(error_code(&refused), "partner_access_not_granted");
        api.server
            .put_as(&it, &format!("/v1/servers/{server_id}/partner-access"))
            .json(&json!({ "granted": true }))
            .await
            .assert_status_ok();
        api.server
            .post_as(&staff, &format!("/v1/servers/{server_id}/actions"))
            .json(&json!({ "action": "files uploaded" }))
            .await
            .assert_status_ok();

        let log = opened_log(&t).await;
        let action = last_of(&log, "server.action_performed", &server_id);
        let grant = &action.metadata.to_value()["authorization"];
        assert_eq!(grant["role"], "user");
        assert_eq!(grant["action"], "server_action");
        assert_eq!(
            grant["relation"],
            json!({ "kind": "customer", "assigned": true })
        );
        assert_eq!(
            grant["because"],
            json!([
                grant_event("role", last_of(&log, "user.created", &staff_id)),
                grant_event(
                    "customer_assignment",
                    last_of(&log, "user.customers_assigned", &staff_id)
                ),
                grant_event(
                    "partner_access",
                    last_of(&log, "server.partner_access_granted", &server_id)
                ),
            ])
        );

        // The customer's own admin acts on their role alone.
        let it_id = api.server.get_as(&it, "/v1/me").await.json::<Value>()["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let granted = last_of(&log, "server.partner_access_granted", &server_id);
        let own = &granted.metadata.to_value()["authorization"];
        assert_eq!(own["relation"], json!({ "kind": "own" }));
        assert_eq!(
            own["because"],
            json!([grant_event("role", last_of(&log, "user.created", &it_id))])
        );
        // The platform's bootstrap (by the system) rests on no grant.
        let first = &log[0].metadata.to_value();
        assert_eq!(first["actor"]["kind"], "system");
        assert!(first["authorization"].is_null());
    }
);

on_both_backends!(
    impossible_positions_and_methods_are_precise_errors,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let root = api.root().await;
        let head = t.store.head().await.unwrap().position;
        let account = api.platform;
        // A position beyond the head is refused at once (no 5 s wait).
        for position in [head + 1, u64::MAX] {
            let started = std::time::Instant::now();
            let response = api
                .server
                .get_as(
                    &root,
                    &format!("/v1/accounts/{account}/users?position={position}"),
                )
                .expect_failure()
                .await;
            assert_eq!(
                (response.status_code().as_u16(), error_code(&response)),
                (400, "position_beyond_head".to_owned())
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(4));
        }
        let huge = api
            .server
            .get_as(
                &root,
                &format!("/v1/accounts/{account}/users?position=99999999999999999999999"),
            )
            .expect_failure()
            .await;
        assert_eq!(huge.status_code(), 400);
        // A method a path does not take: 405 with the error object.
        let wrong = api
            .server
            .method(axum::http::Method::PATCH, "/v1/activity")
            .authorization_bearer(&root)
            .expect_failure()
            .await;
        assert_eq!(wrong.status_code(), 405);
        assert_eq!(error_code(&wrong), "method_not_allowed");
        // Whatever Idempotency-Key a request carries, a method no route
        // takes is a 405 and a missing token a 401 (the key is looked at
        // only on a route's own method, for a caller who may call it).
        let keyed = api
            .server
            .post("/v1/activity")
            .authorization_bearer(&root)
            .add_header("idempotency-key", "k")
            .expect_failure()
            .await;
        assert_eq!(keyed.status_code(), 405);
        let anonymous = api
            .server
            .delete(&format!("/v1/accounts/{account}"))
            .add_header("idempotency-key", "bad key with spaces")
            .expect_failure()
            .await;
        assert_eq!(anonymous.status_code(), 401);
    }
);
