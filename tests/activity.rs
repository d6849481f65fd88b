//! The activity log as auditors use it, over HTTP on both backends: every
//! filter, combined; newest first with keyset pages; who sees which
//! accounts; and the streamed CSV / NDJSON export honoring the same filters.

mod support;

use std::sync::Arc;

use axum_test::TestServer;
use chrono::Utc;
use portal_ledger::app::sessions::Auth;
use portal_ledger::app::Ledger;
use portal_ledger::backend::{open_projections, Migrations};
use portal_ledger::domain::email::Email;
use portal_ledger::http::{router, AppState};
use portal_ledger::notify::MemoryNotifier;
use portal_ledger::projection::runner::Projections;
use serde_json::{json, Value};

struct World {
    server: TestServer,
    _projections: Arc<Projections>,
    root: String,
    partner_admin: String,
    partner_auditor: String,
    customer_admin: String,
    customer: String,
    other_org: String,
    last_position: u64,
}

async fn post(server: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let response = server
        .post(path)
        .authorization_bearer(token)
        .json(&body)
        .await;
    assert!(
        response.status_code().is_success(),
        "{path}: {}",
        response.text()
    );
    response.json()
}

async fn sign_in(server: &TestServer, email: &str, password: &str) -> String {
    let body: Value = server
        .post("/v1/sessions")
        .json(&json!({ "email": email, "password": password }))
        .await
        .json();
    body["token"].as_str().unwrap().to_owned()
}

async fn world(t: &support::TestStore) -> World {
    let projections = Projections::new(
        t.store.clone(),
        t.personal.clone(),
        open_projections(&t.location, Migrations::Apply)
            .await
            .unwrap(),
    );
    projections.start();
    let auth = Auth::new(
        Ledger::new(t.store.clone(), t.personal.clone()),
        t.backend.credentials(),
    )
    .with_notifier(Arc::new(MemoryNotifier::default()));
    let (_, _, password) = auth
        .bootstrap(&Email::parse("root@platform.example").unwrap(), Utc::now())
        .await
        .unwrap();
    let state = AppState {
        store: t.store.clone(),
        auth,
        projections: projections.clone(),
        idempotency: t.backend.idempotency(),
        checkpoint_key: None,
    };
    let server = TestServer::builder().http_transport().build(router(state));
    let root = sign_in(&server, "root@platform.example", password.expose()).await;
    let partner = post(
        &server,
        &root,
        "/v1/accounts",
        json!({"kind": "partner", "name": "Reseller"}),
    )
    .await;
    let partner = partner["account_id"].as_str().unwrap().to_owned();
    post(&server, &root, &format!("/v1/accounts/{partner}/users"), json!({"email": "boss@reseller.example", "name": "Boss", "role": "admin", "password": "partner password"})).await;
    let partner_admin = sign_in(&server, "boss@reseller.example", "partner password").await;
    post(&server, &partner_admin, &format!("/v1/accounts/{partner}/users"), json!({"email": "audit@reseller.example", "name": "Auditor", "role": "read-only", "password": "auditor password"})).await;
    let partner_auditor = sign_in(&server, "audit@reseller.example", "auditor password").await;
    let customer = post(
        &server,
        &partner_admin,
        "/v1/accounts",
        json!({"kind": "organization", "name": "Customer Co"}),
    )
    .await;
    let customer = customer["account_id"].as_str().unwrap().to_owned();
    post(&server, &partner_admin, &format!("/v1/accounts/{customer}/users"), json!({"email": "admin@customer.example", "name": "Cust Admin", "role": "admin", "password": "customer password"})).await;
    let customer_admin = sign_in(&server, "admin@customer.example", "customer password").await;
    for i in 0..4 {
        post(&server, &customer_admin, &format!("/v1/accounts/{customer}/users"), json!({"email": format!("staff{i}@customer.example"), "name": format!("Staff {i}"), "role": "support", "password": "staff password!"})).await;
    }
    let server_body = post(
        &server,
        &customer_admin,
        &format!("/v1/accounts/{customer}/servers"),
        json!({"name": "Lobby Wall"}),
    )
    .await;
    let other = post(
        &server,
        &root,
        "/v1/accounts",
        json!({"kind": "partner", "name": "Other Partner"}),
    )
    .await;
    let other = other["account_id"].as_str().unwrap().to_owned();
    let other_org = post(
        &server,
        &root,
        "/v1/accounts",
        json!({"kind": "organization", "name": "Elsewhere", "parent_id": other}),
    )
    .await;
    let other_org_id = other_org["account_id"].as_str().unwrap().to_owned();
    let last = post(&server, &root, &format!("/v1/accounts/{other_org_id}/users"), json!({"email": "far@elsewhere.example", "name": "Far", "role": "admin", "password": "far away password"})).await;
    let _ = server_body;
    World {
        server,
        _projections: projections,
        root,
        partner_admin,
        partner_auditor,
        customer_admin,
        customer,
        other_org: other_org_id,
        last_position: last["position"].as_u64().unwrap(),
    }
}

impl World {
    async fn search(&self, token: &str, query: &str) -> Value {
        let response = self
            .server
            .get(&format!(
                "/v1/activity?position={}&{query}",
                self.last_position
            ))
            .authorization_bearer(token)
            .await;
        assert_eq!(response.status_code(), 200, "{query}: {}", response.text());
        response.json()
    }

    async fn entries(&self, token: &str, query: &str) -> Vec<Value> {
        self.search(token, query).await["entries"]
            .as_array()
            .unwrap()
            .clone()
    }
}

fn accounts(entries: &[Value]) -> std::collections::BTreeSet<String> {
    entries
        .iter()
        .map(|e| e["account_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

on_both_backends!(
    auditors_search_filter_page_and_export_the_activity_log,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        // Who sees what.
        let everything = w.entries(&w.root, "limit=500").await;
        let positions: Vec<u64> = everything
            .iter()
            .map(|e| e["position"].as_u64().unwrap())
            .collect();
        assert!(positions.windows(2).all(|p| p[0] > p[1]), "newest first");
        assert!(accounts(&everything).contains(&w.other_org));
        let partner_view = w.entries(&w.partner_auditor, "limit=500").await;
        assert!(!partner_view.is_empty());
        assert!(accounts(&partner_view).contains(&w.customer));
        assert!(!accounts(&partner_view).contains(&w.other_org));
        let customer_view = w.entries(&w.customer_admin, "limit=500").await;
        assert_eq!(accounts(&customer_view), [w.customer.clone()].into());
        // Another tenant's account, named explicitly: not found.
        let hidden = w
            .server
            .get(&format!("/v1/activity?account_id={}", w.other_org))
            .authorization_bearer(&w.partner_auditor)
            .await;
        assert_eq!(hidden.status_code(), 404);

        // Every entry shows the fields auditors need.
        let entry = &customer_view[0];
        for field in [
            "position",
            "recorded_at",
            "action_type",
            "description",
            "actor_email",
            "actor_user_id",
            "account_id",
            "on_behalf_of",
            "targets",
            "ip",
            "user_agent",
            "outcome",
        ] {
            assert!(entry.get(field).is_some(), "{field} missing in {entry}");
        }
        assert!(entry.get("personal_subject").is_none());

        // Filters.
        let by_actor = w
            .entries(&w.root, "actor_email=ADMIN@customer.example")
            .await;
        // Signed in once, created four users (each with a password) and a server.
        assert_eq!(by_actor.len(), 10);
        assert!(by_actor
            .iter()
            .all(|e| e["actor_email"] == "admin@customer.example"));
        let by_prefix = w.entries(&w.root, "actor_email_prefix=boss@").await;
        assert!(by_prefix
            .iter()
            .all(|e| e["actor_email"].as_str().unwrap().starts_with("boss@")));
        assert!(!by_prefix.is_empty());
        let by_types = w
            .entries(
                &w.root,
                "action_types=Update%20Server,Update%20Organization",
            )
            .await;
        assert!(by_types.iter().any(|e| e["action_type"] == "Update Server"));
        assert!(by_types
            .iter()
            .any(|e| e["action_type"] == "Update Organization"));
        assert!(by_types
            .iter()
            .all(|e| ["Update Server", "Update Organization"]
                .contains(&e["action_type"].as_str().unwrap())));
        let by_words = w.entries(&w.root, "q=LOBBY%20wall").await;
        assert_eq!(by_words.len(), 1, "{by_words:?}");
        assert!(w.entries(&w.root, "q=lobby%20nothing").await.is_empty());
        let by_account = w
            .entries(&w.partner_auditor, &format!("account_id={}", w.customer))
            .await;
        assert_eq!(accounts(&by_account), [w.customer.clone()].into());
        let staff_target = by_actor
            .iter()
            .flat_map(|e| e["targets"].as_array().unwrap().clone())
            .find(|t| t["type"] == "user")
            .unwrap();
        let by_target = w
            .entries(
                &w.root,
                &format!(
                    "target_type=user&target_id={}",
                    staff_target["id"].as_str().unwrap()
                ),
            )
            .await;
        assert!(!by_target.is_empty());
        assert!(by_target
            .iter()
            .all(|e| e["targets"].as_array().unwrap().contains(&staff_target)));
        let combined = w
        .entries(&w.root, &format!("actor_email=admin@customer.example&action_types=Update%20User%20Profile&account_id={}", w.customer))
        .await;
        assert_eq!(combined.len(), 4);
        let future = (Utc::now() + chrono::Duration::hours(1))
            .to_rfc3339()
            .replace('+', "%2B");
        assert!(w
            .entries(&w.root, &format!("from={future}"))
            .await
            .is_empty());
        assert_eq!(
            w.entries(&w.root, &format!("to={future}&limit=500"))
                .await
                .len(),
            everything.len()
        );
        assert_eq!(
            w.entries(&w.root, "outcome=succeeded&limit=500")
                .await
                .len(),
            everything.len()
        );
        assert!(w.entries(&w.root, "outcome=challenged").await.is_empty());

        // Keyset pages: all entries, once each, in order.
        let mut paged = Vec::new();
        let mut query = "limit=3".to_owned();
        loop {
            let page = w.search(&w.root, &query).await;
            paged.extend(
                page["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["position"].as_u64().unwrap()),
            );
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("limit=3&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(paged, positions);

        // Bad input.
        for (query, code) in [
            ("cursor=nope", "invalid_cursor"),
            ("limit=0", "invalid_limit"),
            ("limit=501", "invalid_limit"),
            ("outcome=maybe", "invalid_outcome"),
            ("target_type=user", "invalid_target"),
        ] {
            let response = w
                .server
                .get(&format!("/v1/activity?{query}"))
                .authorization_bearer(&w.root)
                .await;
            assert_eq!(response.status_code(), 400, "{query}");
            assert_eq!(response.json::<Value>()["error"]["code"], code, "{query}");
        }
        let unknown = w
            .server
            .get("/v1/activity?colour=red")
            .authorization_bearer(&w.root)
            .await;
        assert_eq!(unknown.status_code(), 400);
        let anonymous = w.server.get("/v1/activity").await;
        assert_eq!(anonymous.status_code(), 401);

        // Export: the same filters, streamed, as CSV and as NDJSON.
        let csv = w
            .server
            .get(&format!(
                "/v1/activity/export?format=csv&account_id={}",
                w.customer
            ))
            .authorization_bearer(&w.partner_admin)
            .await;
        assert_eq!(csv.status_code(), 200);
        assert!(csv
            .header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = csv.text();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap().iter().next(), Some("position"));
        let rows = reader.records().count();
        assert_eq!(rows, by_account.len());
        let ndjson = w
            .server
            .get("/v1/activity/export?format=ndjson")
            .authorization_bearer(&w.root)
            .await
            .text();
        let lines: Vec<Value> = ndjson
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), everything.len());
        assert_eq!(lines[0]["position"], everything[0]["position"]);
        let bad_format = w
            .server
            .get("/v1/activity/export?format=xml")
            .authorization_bearer(&w.root)
            .await;
        assert_eq!(bad_format.status_code(), 400);
    }
);

on_both_backends!(
    history_and_as_of_over_http,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let users: Value = w
            .server
            .get(&format!(
                "/v1/accounts/{}/users?position={}",
                w.customer, w.last_position
            ))
            .authorization_bearer(&w.customer_admin)
            .await
            .json();
        let staff = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == "staff0@customer.example")
            .unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = w.last_position;
        let changed = w
            .server
            .put(&format!("/v1/users/{staff}/role"))
            .authorization_bearer(&w.customer_admin)
            .json(&json!({ "role": "read-only" }))
            .await;
        assert_eq!(changed.status_code(), 200, "{}", changed.text());

        let history: Value = w
            .server
            .get(&format!("/v1/history/user/{staff}"))
            .authorization_bearer(&w.partner_auditor)
            .await
            .json();
        let last = history["entries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["before"], json!({ "role": "support" }));
        assert_eq!(last["after"], json!({ "role": "read-only" }));
        assert_eq!(last["actor_email"], "admin@customer.example");
        // Another tenant's auditor does not learn the user exists.
        let hidden = w
            .server
            .get(&format!("/v1/history/user/{staff}"))
            .authorization_bearer(&w.root)
            .await;
        assert_eq!(hidden.status_code(), 200, "the platform sees everything");
        let far: Value = w
            .server
            .get(&format!(
                "/v1/accounts/{}/users?position={}",
                w.other_org, w.last_position
            ))
            .authorization_bearer(&w.root)
            .await
            .json();
        let far_user = far["users"][0]["user_id"].as_str().unwrap().to_owned();
        let refused = w
            .server
            .get(&format!("/v1/history/user/{far_user}"))
            .authorization_bearer(&w.partner_auditor)
            .await;
        assert_eq!(refused.status_code(), 404);

        // As of before the change: support; now: read-only.
        let then: Value = w
            .server
            .get(&format!("/v1/users/{staff}?as_of={before}"))
            .authorization_bearer(&w.customer_admin)
            .await
            .json();
        assert_eq!(then["role"], "support");
        let listed: Value = w
            .server
            .get(&format!("/v1/accounts/{}/users?as_of={before}", w.customer))
            .authorization_bearer(&w.customer_admin)
            .await
            .json();
        assert_eq!(listed["users"].as_array().unwrap().len(), 5);
        let at_start: Value = w
            .server
            .get(&format!("/v1/accounts/{}/users?as_of=1", w.customer))
            .authorization_bearer(&w.customer_admin)
            .await
            .json();
        assert!(at_start["users"].as_array().unwrap().is_empty());
        let account: Value = w
            .server
            .get(&format!(
                "/v1/accounts/{}?as_of=2030-01-01T00:00:00Z",
                w.customer
            ))
            .authorization_bearer(&w.customer_admin)
            .await
            .json();
        assert_eq!(account["name"], "Customer Co");
        let servers: Value = w
            .server
            .get(&format!(
                "/v1/accounts/{}/servers?as_of={before}",
                w.customer
            ))
            .authorization_bearer(&w.customer_admin)
            .await
            .json();
        assert_eq!(servers["servers"][0]["name"], "Lobby Wall");
        let bad = w
            .server
            .get(&format!("/v1/users/{staff}?as_of=yesterday"))
            .authorization_bearer(&w.customer_admin)
            .await;
        assert_eq!(bad.status_code(), 400);
        assert_eq!(bad.json::<Value>()["error"]["code"], "invalid_as_of");
    }
);
