//! Sessions over HTTP on both backends: signing in and out, sign-in
//! limits, trusted locations and their challenges, notification settings,
//! one's own e-mail changes.

use crate::support;

use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};

on_both_backends!(
    notifications_sessions_and_trusted_locations_over_http,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let (root, me) = api
            .session("root@platform.example", &api.root_password)
            .await;
        let platform = me["account_id"].as_str().unwrap().to_owned();
        let root_id = me["user_id"].as_str().unwrap().to_owned();
        let created: Value = api
            .server.post_as(&root, &format!("/v1/accounts/{platform}/users"))
            .json(&json!({ "email": "ops@platform.example", "name": "Ops", "role": "support", "password": "ops long password" }))
            .await
            .json();
        let ops_id = created["user_id"].as_str().unwrap().to_owned();

        // Digest settings: own, validated, unknown fields refused.
        let set = api
            .server
            .put_as(
                &root,
                &format!("/v1/users/{root_id}/notification-preferences"),
            )
            .json(&json!({ "frequency": "weekly", "categories": ["servers", "security"] }))
            .await;
        assert_eq!(set.status_code(), 200, "{}", set.text());
        for bad in [
            json!({ "frequency": "hourly", "categories": [] }),
            json!({ "frequency": "daily", "categories": ["gossip"] }),
            json!({ "frequency": "daily", "categories": [], "extra": 1 }),
        ] {
            let refused = api
                .server
                .put_as(
                    &root,
                    &format!("/v1/users/{root_id}/notification-preferences"),
                )
                .json(&bad)
                .await;
            assert!(refused.status_code().is_client_error(), "{bad}");
        }
        let position = set.json::<Value>()["position"].as_u64().unwrap();
        let user: Value = api
            .server
            .get_as(&root, &format!("/v1/users/{root_id}?position={position}"))
            .await
            .json();
        assert_eq!(user["notify_frequency"], "weekly");
        assert_eq!(user["notify_categories"], json!(["security", "servers"]));

        // A support user may not set an admin's preferences.
        let (ops, _) = api
            .session("ops@platform.example", "ops long password")
            .await;
        let forbidden = api
            .server
            .put_as(
                &ops,
                &format!("/v1/users/{root_id}/notification-preferences"),
            )
            .json(&json!({ "frequency": "daily", "categories": [] }))
            .await;
        assert_eq!(forbidden.status_code(), 403);

        // The admin resets ops' password: an e-mail, recorded in the outbox.
        let reset = api
            .server
            .post_as(&root, &format!("/v1/users/{ops_id}/password-reset"))
            .await;
        assert_eq!(reset.status_code(), 200, "{}", reset.text());
        let position = reset.json::<Value>()["position"].as_u64().unwrap();
        assert_eq!(api.mail.sent().last().unwrap().to, "ops@platform.example");
        let outbox: Value = api
            .server
            .get_as(
                &root,
                &format!("/v1/accounts/{platform}/outbox?position={position}"),
            )
            .await
            .json();
        assert_eq!(outbox["emails"][0]["kind"], "password_reset");
        assert_eq!(outbox["emails"][0]["recipient"], "ops@platform.example");

        // Sessions: the reset revoked ops' session.
        let sessions: Value = api
            .server
            .get_as(
                &root,
                &format!("/v1/accounts/{platform}/sessions?position={position}"),
            )
            .await
            .json();
        let ops_sessions: Vec<&Value> = sessions["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["user_id"] == ops_id.as_str())
            .collect();
        assert_eq!(ops_sessions.len(), 1);
        assert!(!ops_sessions[0]["revoked_at"].is_null());
        assert_eq!(api.server.get_as(&ops, "/v1/me").await.status_code(), 401);

        // Trusted locations: with one, a sign-in from an unknown address
        // needs the e-mailed code.
        let trusted = api
            .server
            .post_as(&root, &format!("/v1/users/{root_id}/trusted-locations"))
            .json(&json!({ "ip": "198.51.100.1" }))
            .await;
        assert_eq!(trusted.status_code(), 201, "{}", trusted.text());
        let bad_ip = api
            .server
            .post_as(&root, &format!("/v1/users/{root_id}/trusted-locations"))
            .json(&json!({ "ip": "nowhere" }))
            .await;
        assert_eq!(bad_ip.status_code(), 422);
        assert_eq!(error_code(&bad_ip), "invalid_ip");
        let challenged = api
            .server
            .post("/v1/sessions")
            .json(&json!({ "email": "root@platform.example", "password": api.root_password }))
            .await;
        assert_eq!(challenged.status_code(), 401);
        assert_eq!(error_code(&challenged), "second_factor_required");
        let removed = api
            .server
            .delete_as(
                &root,
                &format!("/v1/users/{root_id}/trusted-locations/198.51.100.1"),
            )
            .await;
        assert_eq!(removed.status_code(), 200, "{}", removed.text());
        api.session("root@platform.example", &api.root_password)
            .await;
    }
);

on_both_backends!(
    sign_in_limits_sign_out_and_own_email_changes_over_http,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let (root, me) = api
            .session("root@platform.example", &api.root_password)
            .await;
        let platform = me["account_id"].as_str().unwrap().to_owned();
        let created: Value = api
            .server.post_as(&root, &format!("/v1/accounts/{platform}/users"))
            .json(&json!({ "email": "ada@platform.example", "name": "Ada", "role": "support", "password": "ada long password" }))
            .await
            .json();
        let ada_id = created["user_id"].as_str().unwrap().to_owned();

        // Five wrong passwords, then 429 — even with the right one — and
        // none of it is in the log.
        let head = t.store.head().await.unwrap();
        for attempt in 0..5 {
            let wrong = api
                .server
                .post("/v1/sessions")
                .json(&json!({ "email": "ada@platform.example", "password": format!("wrong {attempt}") }))
                .expect_failure()
                .await;
            assert_eq!(wrong.status_code(), 401, "attempt {attempt}");
            assert_eq!(error_code(&wrong), "invalid_credentials");
        }
        for password in ["wrong again", "ada long password"] {
            let limited = api
                .server
                .post("/v1/sessions")
                .json(&json!({ "email": "ADA@platform.example", "password": password }))
                .expect_failure()
                .await;
            assert_eq!(limited.status_code(), 429, "{}", limited.text());
            assert_eq!(error_code(&limited), "too_many_attempts");
            let wait: u64 = limited
                .header("retry-after")
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=15 * 60).contains(&wait), "Retry-After: {wait}");
        }
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused sign-in appended"
        );
        // Other addresses are not affected.
        let (second, _) = api
            .session("root@platform.example", &api.root_password)
            .await;

        // Signing out ends that session only, at once.
        let out = api.server.delete_as(&second, "/v1/sessions/current").await;
        assert_eq!(out.status_code(), 204, "{}", out.text());
        let gone = api.server.get_as(&second, "/v1/me").expect_failure().await;
        assert_eq!(gone.status_code(), 401);
        assert_eq!(error_code(&gone), "unauthenticated");
        let again = api
            .server
            .delete_as(&second, "/v1/sessions/current")
            .expect_failure()
            .await;
        assert_eq!(again.status_code(), 401);
        api.server.get_as(&root, "/v1/me").await.assert_status_ok();

        // Changing your own e-mail ends every session of yours at once …
        let other_root = api
            .session("root@platform.example", &api.root_password)
            .await
            .0;
        let me_id = me["user_id"].as_str().unwrap().to_owned();
        let changed = api
            .server
            .patch_as(&root, &format!("/v1/users/{me_id}"))
            .json(&json!({ "email": "root@new.platform.example" }))
            .await;
        assert_eq!(changed.status_code(), 200, "{}", changed.text());
        for token in [&root, &other_root] {
            let gone = api.server.get_as(token, "/v1/me").expect_failure().await;
            assert_eq!(gone.status_code(), 401);
        }
        // … the old address no longer signs in, the new one does …
        let old = api
            .server
            .post("/v1/sessions")
            .json(&json!({ "email": "root@platform.example", "password": api.root_password }))
            .expect_failure()
            .await;
        assert_eq!(error_code(&old), "invalid_credentials");
        let (root, _) = api
            .session("root@new.platform.example", &api.root_password)
            .await;
        let me: Value = api.server.get_as(&root, "/v1/me").await.json();
        assert_eq!(me["email"], "root@new.platform.example");
        // … while an admin changing someone else's e-mail stays signed in.
        api.server
            .patch_as(&root, &format!("/v1/users/{ada_id}"))
            .json(&json!({ "email": "ada@new.platform.example" }))
            .await
            .assert_status_ok();
        api.server.get_as(&root, "/v1/me").await.assert_status_ok();
    }
);
