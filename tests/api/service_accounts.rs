//! Service accounts and API keys over HTTP, on both backends: an account's
//! admins create service accounts with a role (and, on a partner, a
//! customer limit), issue keys shown once and stored hashed, list them with
//! last use, and revoke them; a request with a key acts as the service
//! account under the same matrix as people, recorded with the service
//! account and the key in every event; bad, expired and revoked keys get
//! precise 401s and append nothing.

use std::future::IntoFuture;

use chrono::{Duration, Utc};
use futures_util::future::join_all;
use portal_ledger::store::ReadFilter;
use serde_json::{json, Value};

use crate::support;
use support::http::{answer, error_code, AsCaller, TestApi};
use support::world::World;

async fn head(api: &TestApi) -> u64 {
    api.ledger().store().head().await.unwrap().position
}

/// Creates a service account in `account` (expecting 201); its id.
async fn create(api: &TestApi, token: &str, account: &str, body: Value) -> String {
    let made = api
        .server
        .post_as(token, &format!("/v1/accounts/{account}/service-accounts"))
        .json(&body)
        .await;
    assert_eq!(made.status_code(), 201, "{}", made.text());
    made.json::<Value>()["service_account_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Issues a key (expecting 201); the answer.
async fn issue(api: &TestApi, token: &str, service_account: &str, body: Value) -> Value {
    let issued = api
        .server
        .post_as(
            token,
            &format!("/v1/service-accounts/{service_account}/keys"),
        )
        .json(&body)
        .await;
    assert_eq!(issued.status_code(), 201, "{}", issued.text());
    issued.json()
}

on_both_backends!(
    a_key_acts_as_its_service_account_until_revoked,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let owner = &w.customer_owner.token;
        let customer = &w.customer;
        let sa = create(
            &api,
            owner,
            customer,
            json!({ "name": "Lobby sync", "role": "regular" }),
        )
        .await;
        let issued = issue(&api, owner, &sa, json!({ "name": "CI" })).await;
        let key = issued["key"].as_str().unwrap().to_owned();
        let key_id = issued["key_id"].as_str().unwrap().to_owned();
        let prefix = issued["prefix"].as_str().unwrap();
        assert!(
            key.starts_with("plk_") && key.starts_with(prefix),
            "{issued}"
        );
        assert!(!prefix.contains('.'), "the prefix holds no secret");

        // The key acts under its role: Regular registers servers ...
        let registered = api
            .server
            .post_as(&key, &format!("/v1/accounts/{customer}/servers"))
            .json(&json!({ "name": "Wall 7" }))
            .await;
        assert_eq!(registered.status_code(), 201, "{}", registered.text());
        // ... and the event names the service account and the key.
        let position = registered.json::<Value>()["position"].as_u64().unwrap();
        let events = api
            .ledger()
            .store()
            .read_all(position, 1, &ReadFilter::all())
            .await
            .unwrap();
        let metadata = events[0].metadata.to_value();
        assert_eq!(metadata["actor"]["kind"], "service_account", "{metadata}");
        assert_eq!(metadata["actor"]["service_account_id"], sa.as_str());
        assert_eq!(metadata["actor"]["api_key_id"], key_id.as_str());
        assert_eq!(metadata["actor"]["name"], "Lobby sync");
        assert_eq!(metadata["authorization"]["role"], "regular", "{metadata}");
        let activity: Value = api
            .server
            .get_as(
                owner,
                &format!("/v1/accounts/{customer}/activity?position={position}"),
            )
            .await
            .json();
        let entry = &activity["entries"][0];
        assert_eq!(entry["actor_service_account_id"], sa.as_str(), "{entry}");
        assert_eq!(entry["actor_api_key_id"], key_id.as_str());
        assert_eq!(entry["actor_name"], "Lobby sync");

        // ... but may not do what Regular may not, nor what only people do.
        let before = head(&api).await;
        let invite = api
            .server
            .post_as(&key, &format!("/v1/accounts/{customer}/users"))
            .json(&json!({ "email": "x@customer.example", "name": "X", "role": "regular", "password": "long enough password" }))
            .expect_failure()
            .await;
        assert_eq!(answer(&invite), (403, "forbidden".to_owned()));
        for (method, path, body) in [
            (
                "POST",
                format!("/v1/accounts/{customer}/service-accounts"),
                json!({ "name": "Mine", "role": "regular" }),
            ),
            (
                "POST",
                format!("/v1/service-accounts/{sa}/keys"),
                json!({ "name": "another" }),
            ),
            (
                "PUT",
                "/v1/me/password".to_owned(),
                json!({ "current_password": "x", "new_password": "long enough password" }),
            ),
        ] {
            let request = match method {
                "POST" => api.server.post_as(&key, &path),
                _ => api.server.put_as(&key, &path),
            };
            let refused = request.json(&body).expect_failure().await;
            assert_eq!(
                answer(&refused),
                (403, "person_required".to_owned()),
                "{path}"
            );
        }
        let me = api.server.get_as(&key, "/v1/me").expect_failure().await;
        assert_eq!(answer(&me), (403, "person_required".to_owned()));
        let sign_out = api
            .server
            .delete_as(&key, "/v1/sessions/current")
            .expect_failure()
            .await;
        assert_eq!(answer(&sign_out), (403, "person_required".to_owned()));
        assert_eq!(head(&api).await, before, "refusals append nothing");

        // The service account as its admins read it: the key's prefix, name,
        // status and last use — never the secret or its hash.
        let read = api
            .server
            .get_as(owner, &format!("/v1/service-accounts/{sa}"))
            .await;
        assert_eq!(read.status_code(), 200, "{}", read.text());
        let text = read.text();
        let secret = key.split_once('.').unwrap().1;
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("hash"), "{text}");
        let view: Value = read.json();
        assert_eq!(view["role"], "regular");
        assert_eq!(view["status"], "active");
        let listed = &view["keys"][0];
        assert_eq!(listed["prefix"], prefix);
        assert_eq!(listed["name"], "CI");
        assert_eq!(listed["status"], "active");
        assert!(listed["last_used_at"].is_string(), "{listed}");
        let page: Value = api
            .server
            .get_as(
                owner,
                &format!("/v1/accounts/{customer}/service-accounts?position={position}"),
            )
            .await
            .json();
        let row = &page["service_accounts"][0];
        assert_eq!(row["service_account_id"], sa.as_str(), "{page}");
        assert_eq!(row["keys_issued"], 1);

        // Revoked: the very next request is refused, precisely.
        let revoked = api
            .server
            .delete_as(owner, &format!("/v1/service-accounts/{sa}/keys/{key_id}"))
            .await;
        assert_eq!(revoked.status_code(), 200, "{}", revoked.text());
        let before = head(&api).await;
        let after_revoke = api
            .server
            .post_as(&key, &format!("/v1/accounts/{customer}/servers"))
            .json(&json!({ "name": "Wall 8" }))
            .expect_failure()
            .await;
        assert_eq!(answer(&after_revoke), (401, "api_key_revoked".to_owned()));
        let again = api
            .server
            .delete_as(owner, &format!("/v1/service-accounts/{sa}/keys/{key_id}"))
            .expect_failure()
            .await;
        assert_eq!(answer(&again), (409, "key_revoked".to_owned()));
        assert_eq!(head(&api).await, before, "refusals append nothing");

        // Malformed, unknown and wrong-secret keys: 401 invalid_api_key.
        let other = issue(&api, owner, &sa, json!({ "name": "second" })).await;
        let other_key = other["key"].as_str().unwrap().to_owned();
        let before = head(&api).await;
        let wrong_secret = format!("{}.{}", other["prefix"].as_str().unwrap(), "A".repeat(43));
        for bad in ["plk_nope", "plk_.x", wrong_secret.as_str()] {
            let refused = api
                .server
                .get_as(bad, &format!("/v1/accounts/{customer}"))
                .expect_failure()
                .await;
            assert_eq!(
                answer(&refused),
                (401, "invalid_api_key".to_owned()),
                "{bad}"
            );
        }
        // A key's end lies ahead.
        let past = api
            .server
            .post_as(owner, &format!("/v1/service-accounts/{sa}/keys"))
            .json(&json!({ "name": "old", "expires_at": (Utc::now() - Duration::minutes(1)).to_rfc3339() }))
            .expect_failure()
            .await;
        assert_eq!(answer(&past), (422, "invalid_key_expiry".to_owned()));
        assert_eq!(head(&api).await, before, "nothing appended");
        let reads = api
            .server
            .get_as(&other_key, &format!("/v1/accounts/{customer}"))
            .await;
        assert_eq!(reads.status_code(), 200, "{}", reads.text());

        // Deactivated: every key of it stops; nothing more can be done.
        let deactivated = api
            .server
            .delete_as(owner, &format!("/v1/service-accounts/{sa}"))
            .await;
        assert_eq!(deactivated.status_code(), 200, "{}", deactivated.text());
        let gone = api
            .server
            .get_as(&other_key, &format!("/v1/accounts/{customer}"))
            .expect_failure()
            .await;
        assert_eq!(answer(&gone), (401, "api_key_revoked".to_owned()));
        let no_more = api
            .server
            .post_as(owner, &format!("/v1/service-accounts/{sa}/keys"))
            .json(&json!({ "name": "third" }))
            .expect_failure()
            .await;
        assert_eq!(
            answer(&no_more),
            (409, "service_account_deactivated".to_owned())
        );
        let view: Value = api
            .server
            .get_as(owner, &format!("/v1/service-accounts/{sa}"))
            .await
            .json();
        assert_eq!(view["status"], "deactivated");
        let statuses: Vec<&str> = view["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["revoked", "active"], "a key's own status stays");

        // Its history, as every entity's: who did what, never a key's hash.
        let history = api
            .server
            .get_as(owner, &format!("/v1/history/service_account/{sa}"))
            .await;
        assert_eq!(history.status_code(), 200, "{}", history.text());
        assert!(!history.text().contains("key_hash"), "{}", history.text());
        let types: Vec<String> = history.json::<Value>()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            [
                "service_account.created",
                "service_account.key_issued",
                "service_account.key_revoked",
                "service_account.key_issued",
                "service_account.deactivated"
            ]
        );
        let unseen = api
            .server
            .get_as(
                &w.other_admin.token,
                &format!("/v1/history/service_account/{sa}"),
            )
            .expect_failure()
            .await;
        assert_eq!(unseen.status_code(), 404);
    }
);

on_both_backends!(
    an_expired_key_is_refused_as_expired,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let root = api.root().await;
        let platform = api.platform.to_string();
        let sa = create(
            &api,
            &root,
            &platform,
            json!({ "name": "Short lived", "role": "read-only" }),
        )
        .await;
        let end = Utc::now() + Duration::seconds(2);
        let issued = issue(
            &api,
            &root,
            &sa,
            json!({ "name": "one shot", "expires_at": end.to_rfc3339() }),
        )
        .await;
        let key = issued["key"].as_str().unwrap().to_owned();
        let path = format!("/v1/accounts/{platform}");
        assert_eq!(api.server.get_as(&key, &path).await.status_code(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
        let refused = api.server.get_as(&key, &path).expect_failure().await;
        assert_eq!(answer(&refused), (401, "api_key_expired".to_owned()));
        let view: Value = api
            .server
            .get_as(&root, &format!("/v1/service-accounts/{sa}"))
            .await
            .json();
        assert_eq!(view["keys"][0]["status"], "expired", "{view}");
    }
);

on_both_backends!(
    a_partner_service_account_sees_only_the_customers_it_is_limited_to,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let w = World::build(&api).await;
        let boss = &w.partner_admin.token;
        let second = api
            .create_account(boss, "organization", "Second Customer")
            .await;
        // The limit names the partner's own customers only.
        for customers in [json!([w.other_org]), json!(["not-an-id"])] {
            let refused = api
                .server
                .post_as(
                    boss,
                    &format!("/v1/accounts/{}/service-accounts", w.partner),
                )
                .json(&json!({ "name": "Sync", "role": "admin", "customers": customers }))
                .expect_failure()
                .await;
            assert!(
                matches!(answer(&refused), (422, ref c) if c == "not_a_customer")
                    || refused.status_code() == 400,
                "{}",
                refused.text()
            );
        }
        let refused = api
            .server
            .post_as(
                &w.customer_owner.token,
                &format!("/v1/accounts/{}/service-accounts", w.customer),
            )
            .json(&json!({ "name": "Sync", "role": "admin", "customers": [second] }))
            .expect_failure()
            .await;
        assert_eq!(answer(&refused), (422, "not_a_customer".to_owned()));

        let sa = create(
            &api,
            boss,
            &w.partner,
            json!({ "name": "Customer sync", "role": "admin", "customers": [w.customer] }),
        )
        .await;
        let key = issue(&api, boss, &sa, json!({ "name": "prod" })).await["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let users_of = |account: &str| format!("/v1/accounts/{account}/users");
        assert_eq!(
            api.server
                .get_as(&key, &users_of(&w.customer))
                .await
                .status_code(),
            200
        );
        // Outside its limit a customer does not exist for it, whatever its
        // role (a person with this role would see it).
        let hidden = api
            .server
            .get_as(&key, &users_of(&second))
            .expect_failure()
            .await;
        assert_eq!(answer(&hidden), (404, "not_found".to_owned()));
        assert_eq!(
            api.server
                .get_as(boss, &users_of(&second))
                .await
                .status_code(),
            200
        );
        // Who could: the service account is listed where it reaches, with
        // the events behind its role and its limit.
        let listed = |view: &Value| -> Option<Value> {
            view["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["service_account_id"] == sa.as_str())
                .cloned()
        };
        let access_of = |account: &str| format!("/v1/accounts/{account}/access");
        let in_customer: Value = api
            .server
            .get_as(boss, &access_of(&w.customer))
            .await
            .json();
        let entry = listed(&in_customer).expect("listed in its customer");
        assert_eq!(entry["kind"], "service_account", "{entry}");
        assert_eq!(entry["relation"], "customer");
        assert_eq!(entry["name"], "Customer sync");
        assert!(entry["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("view_users")));
        assert_eq!(entry["because"].as_array().unwrap().len(), 2, "{entry}");
        let in_second: Value = api.server.get_as(boss, &access_of(&second)).await.json();
        assert!(listed(&in_second).is_none(), "{in_second}");

        // Lifting the limit takes effect on the next request.
        let changed = api
            .server
            .patch_as(boss, &format!("/v1/service-accounts/{sa}"))
            .json(&json!({ "customers": [] }))
            .await;
        assert_eq!(changed.status_code(), 200, "{}", changed.text());
        assert_eq!(
            api.server
                .get_as(&key, &users_of(&second))
                .await
                .status_code(),
            200
        );
        // The partner's read-only staff read service accounts, not manage
        // them; another tenant does not see them at all.
        let auditor = &w.partner_auditor.token;
        let list = format!("/v1/accounts/{}/service-accounts", w.partner);
        assert_eq!(api.server.get_as(auditor, &list).await.status_code(), 200);
        let forbidden = api
            .server
            .post_as(auditor, &list)
            .json(&json!({ "name": "Mine", "role": "read-only" }))
            .expect_failure()
            .await;
        assert_eq!(answer(&forbidden), (403, "forbidden".to_owned()));
        let stranger = &w.other_admin.token;
        let unseen = api
            .server
            .get_as(stranger, &format!("/v1/service-accounts/{sa}"))
            .expect_failure()
            .await;
        assert_eq!(answer(&unseen), (404, "not_found".to_owned()));
    }
);

on_both_backends!(
    service_accounts_page_and_keys_are_rate_limited_per_key,
    |t: support::TestStore| async move {
        let api = TestApi::builder()
            .with_connect_info()
            .with_rate_limits(1, 3)
            .spawn(&t)
            .await;
        let root = api.root().await;
        let platform = api.platform.to_string();
        let mut made = Vec::new();
        for n in 0..3 {
            made.push(
                create(
                    &api,
                    &root,
                    &platform,
                    json!({ "name": format!("Robot {n}"), "role": "support" }),
                )
                .await,
            );
            // The root's own bucket refills between commands.
            tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        }
        let list = format!("/v1/accounts/{platform}/service-accounts");
        let first: Value = api
            .server
            .get_as(&root, &format!("{list}?limit=2"))
            .await
            .json();
        let cursor = first["next_cursor"].as_str().unwrap();
        let rest: Value = api
            .server
            .get_as(&root, &format!("{list}?limit=2&cursor={cursor}"))
            .await
            .json();
        assert!(rest.get("next_cursor").is_none(), "{rest}");
        let ids: Vec<&str> = first["service_accounts"]
            .as_array()
            .unwrap()
            .iter()
            .chain(rest["service_accounts"].as_array().unwrap())
            .map(|r| r["service_account_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, made.iter().map(String::as_str).collect::<Vec<_>>());

        // A key has its own bucket: bursts beyond it are 429 with
        // Retry-After, and append nothing.
        let key = issue(&api, &root, &made[0], json!({ "name": "burst" })).await["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = head(&api).await;
        let path = format!("/v1/accounts/{platform}/tickets");
        let answers = join_all((0..8).map(|n| {
            api.server
                .post_as(&key, &path)
                .json(&json!({ "subject": format!("Ticket {n}"), "description": "d" }))
                .into_future()
        }))
        .await;
        let created = answers.iter().filter(|a| a.status_code() == 201).count();
        let limited: Vec<_> = answers.iter().filter(|a| a.status_code() == 429).collect();
        assert_eq!(created + limited.len(), 8);
        assert!(!limited.is_empty() && created <= 3, "{created} created");
        for refused in limited {
            assert_eq!(error_code(refused), "rate_limited");
            assert!(refused.headers().get("retry-after").is_some());
        }
        assert_eq!(head(&api).await - before, created as u64);
    }
);
