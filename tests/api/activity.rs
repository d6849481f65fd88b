//! The activity log as auditors use it, over HTTP on both backends: every
//! filter, combined; newest first with keyset pages; who sees which
//! accounts; and the streamed CSV / NDJSON export honoring the same filters.

use crate::support;

use std::sync::Arc;

use axum_test::TestServer;
use chrono::Utc;
use portal_ledger::backend::{open_projections, Migrations};
use portal_ledger::projection::runner::Projections;
use serde_json::{json, Value};
use support::http::{sign_in, AsCaller, TestApi};
use support::world::PASSWORD;

struct World {
    server: TestServer,
    /// The service's read models (a test waits on them before a read that
    /// follows a large append).
    projections: Arc<Projections>,
    store: portal_ledger::store::SharedStore,
    root: String,
    partner: String,
    partner_admin: String,
    partner_auditor: String,
    customer_admin: String,
    customer: String,
    other_org: String,
    last_position: u64,
}

async fn post(server: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let response = server.post_as(token, path).json(&body).await;
    assert!(
        response.status_code().is_success(),
        "{path}: {}",
        response.text()
    );
    response.json()
}

/// The shared portal ([`support::world::World`]), served with the peer
/// address as `serve` runs it (entries record the ip); the customer's
/// owner then adds four support staff and a server.
async fn world(t: &support::TestStore) -> World {
    let api = TestApi::builder().with_connect_info().spawn(t).await;
    let portal = support::world::World::build(&api).await;
    let owner = &portal.customer_owner.token;
    let customer = portal.customer.clone();
    for i in 0..4 {
        post(&api.server, owner, &format!("/v1/accounts/{customer}/users"), json!({"email": format!("staff{i}@customer.example"), "name": format!("Staff {i}"), "role": "support", "password": "staff password!"})).await;
    }
    let last = post(
        &api.server,
        owner,
        &format!("/v1/accounts/{customer}/servers"),
        json!({"name": "Lobby Wall"}),
    )
    .await;
    World {
        server: api.server,
        projections: api.projections,
        store: t.store.clone(),
        root: portal.root,
        partner: portal.partner,
        partner_admin: portal.partner_admin.token,
        partner_auditor: portal.partner_auditor.token,
        customer_admin: portal.customer_owner.token,
        customer,
        other_org: portal.other_org,
        last_position: last["position"].as_u64().unwrap(),
    }
}

impl World {
    /// Another organization of the partner, created by its admin.
    async fn new_customer(&self, name: &str) -> String {
        post(
            &self.server,
            &self.partner_admin,
            "/v1/accounts",
            json!({"kind": "organization", "name": name}),
        )
        .await["account_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn search(&self, token: &str, query: &str) -> Value {
        let response = self
            .server
            .get_as(
                token,
                &format!("/v1/activity?position={}&{query}", self.last_position),
            )
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
            .get_as(
                &w.partner_auditor,
                &format!("/v1/activity?account_id={}", w.other_org),
            )
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
            .entries(&w.root, "actor_email=OWNER@customer.example")
            .await;
        // Signed in once, created four users (each with a password) and a server.
        assert_eq!(by_actor.len(), 10);
        assert!(by_actor
            .iter()
            .all(|e| e["actor_email"] == "owner@customer.example"));
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
        .entries(&w.root, &format!("actor_email=owner@customer.example&action_types=Update%20User%20Profile&account_id={}", w.customer))
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
                .get_as(&w.root, &format!("/v1/activity?{query}"))
                .await;
            assert_eq!(response.status_code(), 400, "{query}");
            assert_eq!(response.json::<Value>()["error"]["code"], code, "{query}");
        }
        let unknown = w.server.get_as(&w.root, "/v1/activity?colour=red").await;
        assert_eq!(unknown.status_code(), 400);
        let anonymous = w.server.get("/v1/activity").await;
        assert_eq!(anonymous.status_code(), 401);

        // Export: the same filters, streamed, as CSV and as NDJSON.
        let csv = w
            .server
            .get_as(
                &w.partner_admin,
                &format!("/v1/activity/export?format=csv&account_id={}", w.customer),
            )
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
            .get_as(&w.root, "/v1/activity/export?format=ndjson")
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
            .get_as(&w.root, "/v1/activity/export?format=xml")
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
            .get_as(
                &w.customer_admin,
                &format!(
                    "/v1/accounts/{}/users?position={}",
                    w.customer, w.last_position
                ),
            )
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
            .put_as(&w.customer_admin, &format!("/v1/users/{staff}/role"))
            .json(&json!({ "role": "read-only" }))
            .await;
        assert_eq!(changed.status_code(), 200, "{}", changed.text());

        let history: Value = w
            .server
            .get_as(&w.partner_auditor, &format!("/v1/history/user/{staff}"))
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
        assert_eq!(last["actor_email"], "owner@customer.example");
        // Another tenant's auditor does not learn the user exists.
        let hidden = w
            .server
            .get_as(&w.root, &format!("/v1/history/user/{staff}"))
            .await;
        assert_eq!(hidden.status_code(), 200, "the platform sees everything");
        let far: Value = w
            .server
            .get_as(
                &w.root,
                &format!(
                    "/v1/accounts/{}/users?position={}",
                    w.other_org, w.last_position
                ),
            )
            .await
            .json();
        let far_user = far["users"][0]["user_id"].as_str().unwrap().to_owned();
        let refused = w
            .server
            .get_as(&w.partner_auditor, &format!("/v1/history/user/{far_user}"))
            .await;
        assert_eq!(refused.status_code(), 404);

        // As of before the change: support; now: read-only.
        let then: Value = w
            .server
            .get_as(
                &w.customer_admin,
                &format!("/v1/users/{staff}?as_of={before}"),
            )
            .await
            .json();
        assert_eq!(then["role"], "support");
        let listed: Value = w
            .server
            .get_as(
                &w.customer_admin,
                &format!("/v1/accounts/{}/users?as_of={before}", w.customer),
            )
            .await
            .json();
        assert_eq!(listed["users"].as_array().unwrap().len(), 6);
        let at_start: Value = w
            .server
            .get_as(
                &w.customer_admin,
                &format!("/v1/accounts/{}/users?as_of=1", w.customer),
            )
            .await
            .json();
        assert!(at_start["users"].as_array().unwrap().is_empty());
        // As of a moment after now (tomorrow): the account as it is now.
        let tomorrow = enc(&(Utc::now() + chrono::Duration::days(1)).to_rfc3339());
        let account: Value = w
            .server
            .get_as(
                &w.customer_admin,
                &format!("/v1/accounts/{}?as_of={tomorrow}", w.customer),
            )
            .await
            .json();
        assert_eq!(account["name"], "Customer GmbH");
        let servers: Value = w
            .server
            .get_as(
                &w.customer_admin,
                &format!("/v1/accounts/{}/servers?as_of={before}", w.customer),
            )
            .await
            .json();
        assert_eq!(servers["servers"][0]["name"], "Lobby Wall");
        let bad = w
            .server
            .get_as(
                &w.customer_admin,
                &format!("/v1/users/{staff}?as_of=yesterday"),
            )
            .await;
        assert_eq!(bad.status_code(), 400);
        assert_eq!(bad.json::<Value>()["error"]["code"], "invalid_as_of");
    }
);

/// Percent-encodes a query value (non-ASCII letters, `+`, `:`).
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn get(server: &TestServer, token: &str, path: &str) -> Value {
    let response = server.get_as(token, path).await;
    assert_eq!(response.status_code(), 200, "{path}: {}", response.text());
    response.json()
}

fn user_id(users: &Value, email: &str) -> String {
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email} in {users}"))["user_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn positions(entries: &[Value]) -> Vec<u64> {
    entries
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect()
}

/// An export's whole body, once the read model has applied `position`.
async fn export_text(server: &TestServer, token: &str, position: u64, query: &str) -> String {
    let response = server
        .get_as(
            token,
            &format!("/v1/activity/export?position={position}&{query}"),
        )
        .await;
    assert_eq!(response.status_code(), 200, "{query}: {}", response.text());
    response.text()
}

fn time(entry: &Value) -> chrono::DateTime<Utc> {
    entry["recorded_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("recorded_at of {entry}: {e}"))
}

fn has_target(entry: &Value, kind: &str, id: &str) -> bool {
    entry["targets"]
        .as_array()
        .unwrap()
        .contains(&json!({ "type": kind, "id": id }))
}

on_both_backends!(
    entries_keep_the_actor_at_the_time_where_from_targets_and_outcome,
    |t: support::TestStore| async move {
        let mut w = world(&t).await;
        let users = get(
            &w.server,
            &w.customer_admin,
            &format!(
                "/v1/accounts/{}/users?position={}",
                w.customer, w.last_position
            ),
        )
        .await;
        let staff0 = user_id(&users, "staff0@customer.example");
        let staff1 = user_id(&users, "staff1@customer.example");
        let servers = get(
            &w.server,
            &w.customer_admin,
            &format!(
                "/v1/accounts/{}/servers?position={}",
                w.customer, w.last_position
            ),
        )
        .await;
        let server_id = servers["servers"][0]["server_id"]
            .as_str()
            .unwrap()
            .to_owned();

        // staff0 trusts another address: a sign-in from here is challenged.
        post(
            &w.server,
            &w.customer_admin,
            &format!("/v1/users/{staff0}/trusted-locations"),
            json!({ "ip": "198.51.100.7" }),
        )
        .await;
        let challenged = w
            .server
            .post("/v1/sessions")
            .json(&json!({ "email": "staff0@customer.example", "password": "staff password!" }))
            .await;
        assert_eq!(challenged.status_code(), 401);
        assert_eq!(
            challenged.json::<Value>()["error"]["code"],
            "second_factor_required"
        );
        // staff1 signs in under its first address; then the admin changes it.
        sign_in(&w.server, "staff1@customer.example", "staff password!").await;
        let changed = w
            .server
            .patch_as(&w.customer_admin, &format!("/v1/users/{staff1}"))
            .json(&json!({ "email": "Renamed.Staff@customer.example" }))
            .await;
        assert!(changed.status_code().is_success(), "{}", changed.text());
        sign_in(
            &w.server,
            "renamed.staff@customer.example",
            "staff password!",
        )
        .await;
        // The partner's admin creates a user in the customer (on its behalf).
        let ecran = post(
            &w.server,
            &w.partner_admin,
            &format!("/v1/accounts/{}/users", w.customer),
            json!({"email": "Écran.Müller@customer.example", "name": "Écran Müller", "role": "support", "password": "ecran password!"}),
        )
        .await;
        let ecran_id = ecran["user_id"].as_str().unwrap().to_owned();
        sign_in(
            &w.server,
            "écran.müller@customer.example",
            "ecran password!",
        )
        .await;
        // A command from a known user agent, renaming the server.
        let renamed = w
            .server
            .patch_as(&w.customer_admin, &format!("/v1/servers/{server_id}"))
            .add_header("user-agent", "AuditTest/1.0")
            .json(&json!({ "name": "Überwachung Écran" }))
            .await;
        assert!(renamed.status_code().is_success(), "{}", renamed.text());
        // Its entry names the server as it was; the next one the new name.
        let again = w
            .server
            .patch_as(&w.customer_admin, &format!("/v1/servers/{server_id}"))
            .add_header("user-agent", "AuditTest/1.0")
            .json(&json!({ "name": "Überwachung Écran 2" }))
            .await;
        assert!(again.status_code().is_success(), "{}", again.text());
        w.last_position = again.json::<Value>()["position"].as_u64().unwrap();

        // The challenged sign-in: one entry, by staff0, from here.
        let challenges = w.entries(&w.root, "outcome=challenged").await;
        assert_eq!(challenges.len(), 1, "{challenges:?}");
        let challenge = &challenges[0];
        assert_eq!(challenge["event_type"], "user.location_challenged");
        assert_eq!(challenge["outcome"], "challenged");
        assert_eq!(challenge["actor_user_id"], staff0.as_str());
        assert_eq!(challenge["actor_email"], "staff0@customer.example");
        assert_eq!(challenge["account_id"], w.customer.as_str());
        assert_eq!(challenge["ip"], "127.0.0.1");
        assert!(challenge["description"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"));
        assert_eq!(
            positions(
                &w.entries(
                    &w.customer_admin,
                    "outcome=challenged&actor_email=STAFF0@customer.example"
                )
                .await
            ),
            positions(&challenges)
        );
        assert!(w
            .entries(
                &w.root,
                &format!("outcome=challenged&account_id={}", w.partner)
            )
            .await
            .is_empty());
        assert!(w
            .entries(&w.root, "outcome=succeeded&limit=500")
            .await
            .iter()
            .all(|e| e["outcome"] == "succeeded"));

        // ip, user agent, targets of the rename.
        let update = &w.entries(&w.root, "action_types=Update%20Server").await[0];
        assert_eq!(update["ip"], "127.0.0.1");
        assert_eq!(update["user_agent"], "AuditTest/1.0");
        assert_eq!(update["actor_email"], "owner@customer.example");
        assert_eq!(update["account_id"], w.customer.as_str());
        assert!(update["on_behalf_of"].is_null(), "{update}");
        assert!(has_target(update, "server", &server_id), "{update}");
        assert_eq!(update["position"], w.last_position);
        // on_behalf_of: the partner's admin acting in its customer.
        let created = w
            .entries(
                &w.root,
                &format!("actor_email=boss@reseller.example&action_types=Update%20User%20Profile&target_type=user&target_id={ecran_id}"),
            )
            .await;
        assert_eq!(created.len(), 1, "{created:?}");
        assert_eq!(created[0]["on_behalf_of"], w.customer.as_str());
        assert_eq!(created[0]["account_id"], w.customer.as_str());
        assert!(has_target(&created[0], "user", &ecran_id));

        // The actor's e-mail at that time, before and after the change.
        let before = w
            .entries(&w.root, "actor_email=staff1@customer.example")
            .await;
        assert!(!before.is_empty());
        assert!(before
            .iter()
            .all(|e| e["actor_email"] == "staff1@customer.example"
                && e["actor_user_id"] == staff1.as_str()));
        let after = w
            .entries(&w.root, "actor_email=renamed.STAFF@customer.example")
            .await;
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!(after[0]["actor_email"], "Renamed.Staff@customer.example");
        assert_eq!(after[0]["actor_user_id"], staff1.as_str());
        assert!(positions(&after)[0] > positions(&before)[0]);

        // Non-ASCII text matches case-insensitively, the same on both backends.
        let upper = w
            .entries(&w.root, &format!("q={}", enc("ÜBERWACHUNG")))
            .await;
        assert_eq!(positions(&upper), vec![w.last_position]);
        for q in ["überwachung", "Überwachung écran", "ÉCRAN überWACHUNG"] {
            assert_eq!(
                positions(&w.entries(&w.root, &format!("q={}", enc(q))).await),
                positions(&upper),
                "{q}"
            );
        }
        let ecran_words = w.entries(&w.root, &format!("q={}", enc("ÉCRAN"))).await;
        assert!(ecran_words.len() >= 2, "{ecran_words:?}");
        assert!(ecran_words.iter().all(|e| e["description"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("écran")));
        assert_eq!(
            positions(&w.entries(&w.root, &format!("q={}", enc("écran"))).await),
            positions(&ecran_words)
        );
        let by_prefix = w
            .entries(&w.root, &format!("actor_email_prefix={}", enc("ÉCRAN.MÜ")))
            .await;
        assert!(!by_prefix.is_empty());
        assert!(by_prefix
            .iter()
            .all(|e| e["actor_email"] == "Écran.Müller@customer.example"));
        for query in [
            format!("actor_email_prefix={}", enc("écran.mü")),
            format!("actor_email_prefix={}", enc("Écran.Müller@CUSTOMER")),
            format!("actor_email={}", enc("ÉCRAN.MÜLLER@CUSTOMER.EXAMPLE")),
        ] {
            assert_eq!(
                positions(&w.entries(&w.root, &query).await),
                positions(&by_prefix),
                "{query}"
            );
        }
        assert!(w
            .entries(&w.root, &format!("actor_email_prefix={}", enc("écran.mx")))
            .await
            .is_empty());

        // A time window splits the known entries exactly.
        let all = w.entries(&w.root, "limit=500").await;
        let split = time(&all[all.len() / 2]);
        let older = time(&all[all.len() * 3 / 4]);
        let expect = |keep: &dyn Fn(&Value) -> bool| -> Vec<u64> {
            positions(&all.iter().filter(|e| keep(e)).cloned().collect::<Vec<_>>())
        };
        let from = w
            .entries(
                &w.root,
                &format!("limit=500&from={}", enc(&split.to_rfc3339())),
            )
            .await;
        let to = w
            .entries(
                &w.root,
                &format!("limit=500&to={}", enc(&split.to_rfc3339())),
            )
            .await;
        assert_eq!(positions(&from), expect(&|e| time(e) >= split));
        assert_eq!(positions(&to), expect(&|e| time(e) < split));
        assert!(!from.is_empty() && !to.is_empty());
        assert_eq!(from.len() + to.len(), all.len());
        let window = w
            .entries(
                &w.root,
                &format!(
                    "limit=500&from={}&to={}",
                    enc(&older.to_rfc3339()),
                    enc(&split.to_rfc3339())
                ),
            )
            .await;
        assert_eq!(
            positions(&window),
            expect(&|e| time(e) >= older && time(e) < split)
        );
        assert!(!window.is_empty());
        // A window read in pages of 2: the same entries, once each.
        let mut paged = Vec::new();
        let mut query = format!("limit=2&from={}", enc(&older.to_rfc3339()));
        loop {
            let page = w.search(&w.root, &query).await;
            paged.extend(positions(page["entries"].as_array().unwrap()));
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    query = format!("limit=2&from={}&cursor={cursor}", enc(&older.to_rfc3339()))
                }
                None => break,
            }
        }
        assert_eq!(paged, expect(&|e| time(e) >= older));

        // Several filters at once: exactly the entries matching all of them.
        let admin_types: Vec<String> = all
            .iter()
            .filter(|e| e["actor_email"] == "owner@customer.example" && time(e) >= older)
            .map(|e| e["action_type"].as_str().unwrap().to_owned())
            .collect();
        let chosen = admin_types[0].clone();
        let combined = w
            .entries(
                &w.root,
                &format!(
                    "limit=500&actor_email_prefix=OWNER%40cust&action_types={},Delete%20User&account_id={}&from={}",
                    enc(&chosen),
                    w.customer,
                    enc(&older.to_rfc3339())
                ),
            )
            .await;
        let expected = expect(&|e| {
            e["actor_email"]
                .as_str()
                .is_some_and(|a| a.starts_with("owner@cust"))
                && [chosen.as_str(), "Delete User"].contains(&e["action_type"].as_str().unwrap())
                && e["account_id"] == w.customer.as_str()
                && time(e) >= older
        });
        assert!(!expected.is_empty());
        assert_eq!(positions(&combined), expected);
        let narrower = w
            .entries(
                &w.root,
                &format!(
                    "limit=500&actor_email=owner@customer.example&target_type=server&target_id={server_id}&q=%C3%BCberwachung&outcome=succeeded&to={}",
                    enc(&(time(update) + chrono::Duration::microseconds(1)).to_rfc3339())
                ),
            )
            .await;
        assert_eq!(positions(&narrower), vec![w.last_position]);
    }
);

on_both_backends!(
    partner_staff_see_their_customers_and_exports_read_every_page,
    |t: support::TestStore| async move {
        let mut w = world(&t).await;
        let second = w.new_customer("Second Co").await;
        let assigned = post(&w.server, &w.partner_admin, &format!("/v1/accounts/{}/users", w.partner), json!({"email": "assigned@reseller.example", "name": "Assigned", "role": "user", "password": "assigned password"})).await;
        let assigned_id = assigned["user_id"].as_str().unwrap().to_owned();
        let put = w
            .server
            .put_as(
                &w.partner_admin,
                &format!("/v1/users/{assigned_id}/customers"),
            )
            .json(&json!({ "account_ids": [second] }))
            .await;
        assert!(put.status_code().is_success(), "{}", put.text());
        let assigned_token =
            sign_in(&w.server, "assigned@reseller.example", "assigned password").await;
        let last = post(&w.server, &w.partner_admin, &format!("/v1/accounts/{second}/users"), json!({"email": "two@second.example", "name": "Two", "role": "admin", "password": "second password"})).await;
        w.last_position = last["position"].as_u64().unwrap();

        // Partner staff (role `user`) assigned to the second customer only:
        // the partner and that one.
        let view = w.entries(&assigned_token, "limit=500").await;
        let seen = accounts(&view);
        assert!(seen.contains(&second), "{seen:?}");
        assert!(!seen.contains(&w.customer), "{seen:?}");
        assert!(!seen.contains(&w.other_org), "{seen:?}");
        assert!(
            seen.iter().all(|a| *a == w.partner || *a == second),
            "{seen:?}"
        );
        let refused = w
            .server
            .get_as(
                &assigned_token,
                &format!("/v1/activity?account_id={}", w.customer),
            )
            .await;
        assert_eq!(refused.status_code(), 404);
        let refused = w
            .server
            .get_as(
                &assigned_token,
                &format!("/v1/activity/export?account_id={}", w.customer),
            )
            .await;
        assert_eq!(refused.status_code(), 404);
        let ndjson = |text: String| -> Vec<Value> {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let exported =
            ndjson(export_text(&w.server, &assigned_token, w.last_position, "format=ndjson").await);
        assert_eq!(positions(&exported), positions(&view));
        // A partner auditor without assignments: the partner and every
        // customer, and no other tenant — in the export too.
        let auditor_view = w.entries(&w.partner_auditor, "limit=500").await;
        let auditor_export = ndjson(
            export_text(
                &w.server,
                &w.partner_auditor,
                w.last_position,
                "format=ndjson",
            )
            .await,
        );
        assert_eq!(positions(&auditor_export), positions(&auditor_view));
        let seen = accounts(&auditor_export);
        assert!(
            seen.contains(&w.customer) && seen.contains(&second),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .all(|a| [&w.partner, &w.customer, &second].contains(&a)),
            "{seen:?}"
        );

        // More than one export page (1,000 rows each): 2,100 entries in the
        // customer, appended as commands of their own.
        let events = (0..2_100)
            .map(|i| {
                support::event("bulk.checked", json!({ "n": i })).with_metadata(
                    portal_ledger::event::JsonObject::from_value(
                        "metadata",
                        &json!({
                            "command_id": uuid::Uuid::now_v7().to_string(),
                            "account": w.customer,
                            "action_type": "Bulk Check",
                            "description": format!("Bulk entry {i} {}", if i % 2 == 0 { "even" } else { "odd" }),
                            "actor": {"kind": "user", "user_id": uuid::Uuid::nil().to_string(), "email": "bulk@customer.example"},
                            "targets": [],
                        }),
                    )
                    .unwrap(),
                )
            })
            .collect();
        let appended = w
            .store
            .append(vec![portal_ledger::store::StreamAppend::new(
                support::stream(&format!("bulk-{}", uuid::Uuid::now_v7())),
                portal_ledger::store::ExpectedVersion::NoStream,
                events,
            )])
            .await
            .unwrap();
        w.last_position = appended.last_position();
        let bulk: Vec<u64> = appended.positions.iter().rev().copied().collect();
        assert_eq!(bulk.len(), 2_100);
        // Projecting 2,100 entries can take an unoptimized build on a busy
        // machine longer than the 5 s a read waits for `?position=`: wait
        // for them here, with a generous bound, before the exports.
        assert!(
            w.projections
                .wait_for(w.last_position, support::PROJECTION_WAIT)
                .await,
            "the read models did not reach position {}",
            w.last_position
        );

        let csv_text = export_text(
            &w.server,
            &w.partner_auditor,
            w.last_position,
            &format!(
                "format=csv&action_types=Bulk%20Check&account_id={}",
                w.customer
            ),
        )
        .await;
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let column = reader
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "position")
            .unwrap();
        let rows: Vec<u64> = reader
            .records()
            .map(|r| r.unwrap()[column].parse().unwrap())
            .collect();
        assert_eq!(rows, bulk, "every entry once, newest first, across pages");
        assert_eq!(csv_text.matches("bulk@customer.example").count(), 2_100);
        let odd = ndjson(
            export_text(
                &w.server,
                &w.partner_auditor,
                w.last_position,
                "format=ndjson&action_types=Bulk%20Check&q=ODD",
            )
            .await,
        );
        let expected_odd: Vec<u64> = bulk
            .iter()
            .copied()
            .filter(|p| (p - bulk[bulk.len() - 1]) % 2 == 1)
            .collect();
        assert_eq!(odd.len(), 1_050);
        assert_eq!(positions(&odd), expected_odd);
        assert!(odd
            .iter()
            .all(|e| e["description"].as_str().unwrap().ends_with(" odd")
                && e.get("description_folded").is_none()
                && e.get("actor_email_folded").is_none()));
        // A time window over pages (ordered by time, then position).
        let windowed = ndjson(
            export_text(
                &w.server,
                &w.root,
                w.last_position,
                "format=ndjson&action_types=Bulk%20Check&from=2000-01-01T00%3A00%3A00Z",
            )
            .await,
        );
        assert_eq!(positions(&windowed), bulk);
        // Another tenant's auditor exports none of it.
        let far_token = sign_in(&w.server, "far@elsewhere.example", PASSWORD).await;
        assert!(export_text(
            &w.server,
            &far_token,
            w.last_position,
            "format=ndjson&action_types=Bulk%20Check"
        )
        .await
        .is_empty());
    }
);

fn access_user<'a>(answer: &'a Value, email: &str) -> Option<&'a Value> {
    answer["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
}

fn actions(user: &Value) -> Vec<String> {
    user["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn emails(answer: &Value) -> std::collections::BTreeSet<String> {
    answer["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends!(
    who_could_do_what_over_http,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let path = format!("/v1/accounts/{}/access", w.customer);
        let now = get(&w.server, &w.partner_auditor, &path).await;
        assert_eq!(now["account_id"], w.customer.as_str());
        // Its own users, its partner's staff, the platform's admin.
        let admin = access_user(&now, "owner@customer.example").unwrap();
        assert_eq!(admin["relation"], "own");
        assert_eq!(admin["role"], "admin");
        assert!(actions(admin).contains(&"delete_user".to_owned()));
        assert_eq!(admin["because"][0]["event_type"], "user.created");
        let boss = access_user(&now, "boss@reseller.example").unwrap();
        assert_eq!(boss["relation"], "customer");
        assert_eq!(boss["account_id"], w.partner.as_str());
        let root = access_user(&now, "root@platform.example").unwrap();
        assert_eq!(root["relation"], "platform");
        assert!(access_user(&now, "far@elsewhere.example").is_none());
        for i in 0..4 {
            let staff = access_user(&now, &format!("staff{i}@customer.example")).unwrap();
            assert_eq!(staff["role"], "support");
            assert!(!actions(staff).contains(&"delete_user".to_owned()));
        }

        // `action` keeps exactly those the matrix allows it.
        let deleters = get(
            &w.server,
            &w.partner_auditor,
            &format!("{path}?action=delete_user"),
        )
        .await;
        let expected: std::collections::BTreeSet<String> = now["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| actions(u).contains(&"delete_user".to_owned()))
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(emails(&deleters), expected);
        assert!(expected.contains("owner@customer.example"));
        assert!(!expected.contains("staff0@customer.example"));
        let unknown = w
            .server
            .get_as(
                &w.partner_auditor,
                &format!("{path}?action=fly_to_the_moon"),
            )
            .await;
        assert_eq!(unknown.status_code(), 400);
        assert_eq!(unknown.json::<Value>()["error"]["code"], "unknown_action");

        // One server: the partner's staff may not act on it until the
        // customer grants access; as_of shows the moment before. (The list
        // is a read model: read it once it has the fixture.)
        let servers = get(
            &w.server,
            &w.customer_admin,
            &format!(
                "/v1/accounts/{}/servers?position={}",
                w.customer, w.last_position
            ),
        )
        .await;
        let server_id = servers["servers"][0]["server_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before_grant = w.store.head().await.unwrap().position;
        let on_server = get(
            &w.server,
            &w.partner_auditor,
            &format!("{path}?server_id={server_id}"),
        )
        .await;
        let boss_there = access_user(&on_server, "boss@reseller.example").unwrap();
        assert!(!actions(boss_there).contains(&"server_action".to_owned()));
        assert!(boss_there["because"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["event_type"] == "server.registered"));
        let granted = w
            .server
            .put_as(
                &w.customer_admin,
                &format!("/v1/servers/{server_id}/partner-access"),
            )
            .json(&json!({ "granted": true }))
            .await;
        assert!(granted.status_code().is_success(), "{}", granted.text());
        let after = get(
            &w.server,
            &w.partner_auditor,
            &format!("{path}?server_id={server_id}"),
        )
        .await;
        let boss_after = access_user(&after, "boss@reseller.example").unwrap();
        assert!(actions(boss_after).contains(&"server_action".to_owned()));
        assert!(boss_after["because"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["event_type"] == "server.partner_access_granted"));
        let then = get(
            &w.server,
            &w.partner_auditor,
            &format!("{path}?server_id={server_id}&as_of={before_grant}&action=server_action"),
        )
        .await;
        assert!(
            access_user(&then, "boss@reseller.example").is_none(),
            "{then}"
        );
        assert!(access_user(&then, "owner@customer.example").is_some());
        // A server of another account: nobody (it is not this account's).
        let far_servers = post(
            &w.server,
            &w.root,
            &format!("/v1/accounts/{}/servers", w.other_org),
            json!({"name": "Far Wall"}),
        )
        .await;
        let far_server = far_servers["server_id"].as_str().unwrap().to_owned();
        let none = get(
            &w.server,
            &w.root,
            &format!("{path}?server_id={far_server}"),
        )
        .await;
        assert!(none["users"].as_array().unwrap().is_empty());

        // as_of: a role change, and a moment (by time) before staff3 existed.
        let users = get(
            &w.server,
            &w.customer_admin,
            &format!(
                "/v1/accounts/{}/users?position={}",
                w.customer, w.last_position
            ),
        )
        .await;
        let staff0 = user_id(&users, "staff0@customer.example");
        let changed = w
            .server
            .put_as(&w.customer_admin, &format!("/v1/users/{staff0}/role"))
            .json(&json!({ "role": "read-only" }))
            .await;
        assert_eq!(changed.status_code(), 200, "{}", changed.text());
        let changed_at = changed.json::<Value>()["position"].as_u64().unwrap();
        let at = |as_of: String| {
            let url = format!("{path}?as_of={as_of}");
            let (server, token) = (&w.server, w.customer_admin.clone());
            async move { get(server, &token, &url).await }
        };
        let before = at((changed_at - 1).to_string()).await;
        assert_eq!(
            access_user(&before, "staff0@customer.example").unwrap()["role"],
            "support"
        );
        let after = at(changed_at.to_string()).await;
        let staff0_after = access_user(&after, "staff0@customer.example").unwrap();
        assert_eq!(staff0_after["role"], "read-only");
        assert_eq!(
            staff0_after["because"][0]["event_type"],
            "user.role_changed"
        );
        assert_eq!(staff0_after["because"][0]["position"], changed_at);
        let staff3 = user_id(&users, "staff3@customer.example");
        let history = get(
            &w.server,
            &w.customer_admin,
            &format!("/v1/history/user/{staff3}"),
        )
        .await;
        let created_at: chrono::DateTime<Utc> = history["entries"][0]["recorded_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let just_before = enc(&(created_at - chrono::Duration::microseconds(1)).to_rfc3339());
        let earlier = at(just_before).await;
        assert!(access_user(&earlier, "staff2@customer.example").is_some());
        assert!(access_user(&earlier, "staff3@customer.example").is_none());
        let exactly = at(enc(&created_at.to_rfc3339())).await;
        assert!(access_user(&exactly, "staff3@customer.example").is_some());
        let bad = w
            .server
            .get_as(&w.customer_admin, &format!("{path}?as_of=last%20week"))
            .await;
        assert_eq!(bad.status_code(), 400);
        assert_eq!(bad.json::<Value>()["error"]["code"], "invalid_as_of");

        // The partner's staff in one customer: the customer's answer,
        // narrowed to the partner's users.
        let partner_path = format!("/v1/accounts/{}/access", w.partner);
        let in_customer = get(
            &w.server,
            &w.partner_auditor,
            &format!("{partner_path}?customer_id={}", w.customer),
        )
        .await;
        assert_eq!(in_customer["account_id"], w.partner.as_str());
        assert_eq!(in_customer["customer_id"], w.customer.as_str());
        let customer_answer = get(&w.server, &w.partner_auditor, &path).await;
        let partner_staff: Vec<&Value> = customer_answer["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["account_id"] == w.partner.as_str())
            .collect();
        assert_eq!(
            in_customer["users"]
                .as_array()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            partner_staff
        );
        assert!(emails(&in_customer).contains("boss@reseller.example"));
        assert!(in_customer["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["relation"] == "customer"));
        let own_partner = get(&w.server, &w.partner_auditor, &partner_path).await;
        assert!(own_partner["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["relation"] == "own"));
        // Not its customer: 404, for the platform too; at a moment before
        // the customer existed, neither.
        for (token, customer) in [(&w.partner_auditor, &w.other_org), (&w.root, &w.other_org)] {
            let response = w
                .server
                .get_as(token, &format!("{partner_path}?customer_id={customer}"))
                .await;
            assert_eq!(response.status_code(), 404, "{}", response.text());
        }
        let response = w
            .server
            .get_as(
                &w.root,
                &format!("{partner_path}?customer_id={}&as_of=1", w.customer),
            )
            .await;
        assert_eq!(response.status_code(), 404);

        // Who may ask: auditors of the account; another tenant gets 404;
        // nobody signed in 401.
        let far = sign_in(&w.server, "far@elsewhere.example", PASSWORD).await;
        for (token, status) in [
            (&w.customer_admin, 200),
            (&w.partner_admin, 200),
            (&w.partner_auditor, 200),
            (&w.root, 200),
            (&far, 404),
        ] {
            let response = w.server.get_as(token, &path).await;
            assert_eq!(response.status_code(), status, "{}", response.text());
        }
        let response = w
            .server
            .get_as(
                &w.partner_auditor,
                &format!("/v1/accounts/{}/access", w.other_org),
            )
            .await;
        assert_eq!(response.status_code(), 404);
        let response = w
            .server
            .get_as(
                &w.customer_admin,
                &format!("{partner_path}?customer_id={}", w.customer),
            )
            .await;
        assert_eq!(
            response.status_code(),
            404,
            "a customer does not audit its partner"
        );
        assert_eq!(w.server.get(&path).await.status_code(), 401);
        let unknown_param = w
            .server
            .get_as(&w.root, &format!("{path}?colour=red"))
            .await;
        assert_eq!(unknown_param.status_code(), 400);
    }
);

/// A command over HTTP by method; asserts success, returns the body.
async fn send(server: &TestServer, method: &str, token: &str, path: &str, body: Value) -> Value {
    let request = match method {
        "put" => server.put(path),
        "patch" => server.patch(path),
        _ => server.post(path),
    };
    let response = request.authorization_bearer(token).json(&body).await;
    assert!(
        response.status_code().is_success(),
        "{method} {path}: {}",
        response.text()
    );
    response.json()
}

/// The entries of an entity's history, and asserts who may read it.
async fn history(w: &World, kind: &str, id: &str) -> Vec<Value> {
    let far = sign_in(&w.server, "far@elsewhere.example", PASSWORD).await;
    let hidden = w
        .server
        .get_as(&far, &format!("/v1/history/{kind}/{id}"))
        .await;
    assert_eq!(hidden.status_code(), 404, "{kind} {id}: another tenant");
    let body = get(
        &w.server,
        &w.partner_auditor,
        &format!("/v1/history/{kind}/{id}"),
    )
    .await;
    assert_eq!(body["entity_type"], kind);
    assert_eq!(body["entity_id"], id);
    let entries = body["entries"].as_array().unwrap().clone();
    assert!(
        positions(&entries).windows(2).all(|p| p[0] < p[1]),
        "oldest first"
    );
    entries
}

/// The entry of `event_type` (the last one, if several).
fn entry_of<'a>(entries: &'a [Value], event_type: &str) -> &'a Value {
    entries
        .iter()
        .rev()
        .find(|e| e["event_type"] == event_type)
        .unwrap_or_else(|| panic!("no {event_type} in {entries:?}"))
}

on_both_backends!(
    account_server_license_and_ticket_histories_and_as_of_over_http,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let admin = &w.customer_admin;
        let customer = &w.customer;
        let users = get(
            &w.server,
            admin,
            &format!("/v1/accounts/{customer}/users?position={}", w.last_position),
        )
        .await;
        let staff0 = user_id(&users, "staff0@customer.example");
        let staff1 = user_id(&users, "staff1@customer.example");

        // Account: renamed.
        let before_rename = w.store.head().await.unwrap();
        let before_rename_time = t
            .store
            .read_all(
                before_rename.position,
                1,
                &portal_ledger::store::ReadFilter::all(),
            )
            .await
            .unwrap()[0]
            .recorded_at;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let renamed = send(
            &w.server,
            "patch",
            &w.partner_admin,
            &format!("/v1/accounts/{customer}"),
            json!({"name": "Customer Renamed"}),
        )
        .await;
        let renamed_at = renamed["position"].as_u64().unwrap();
        let entries = history(&w, "account", customer).await;
        let created = &entries[0];
        assert_eq!(created["after"]["name"], "Customer GmbH");
        assert_eq!(created["after"]["kind"], "organization");
        assert_eq!(created["after"]["parent_id"], w.partner.as_str());
        assert_eq!(created["actor_email"], "boss@reseller.example");
        let rename = entries.last().unwrap();
        assert_eq!(rename["position"], renamed_at);
        assert_eq!(rename["before"], json!({ "name": "Customer GmbH" }));
        assert_eq!(rename["after"], json!({ "name": "Customer Renamed" }));
        assert_eq!(rename["actor_email"], "boss@reseller.example");
        let admin_added = entries
            .iter()
            .find(|e| e["after"].get("admins").is_some())
            .expect("the first admin shows in the history");
        assert_eq!(admin_added["before"]["admins"], json!([]));
        assert_eq!(admin_added["after"]["admins"].as_array().unwrap().len(), 1);
        // As of before the rename — by position and by time — and now.
        for as_of in [
            before_rename.position.to_string(),
            enc(&before_rename_time.to_rfc3339()),
        ] {
            let then = get(
                &w.server,
                admin,
                &format!("/v1/accounts/{customer}?as_of={as_of}"),
            )
            .await;
            assert_eq!(then["name"], "Customer GmbH", "{as_of}");
        }
        let then = get(
            &w.server,
            admin,
            &format!("/v1/accounts/{customer}?as_of={renamed_at}"),
        )
        .await;
        assert_eq!(then["name"], "Customer Renamed");
        let current = get(
            &w.server,
            admin,
            &format!("/v1/accounts/{customer}?position={renamed_at}"),
        )
        .await;
        assert_eq!(current["name"], "Customer Renamed");
        let not_yet = w
            .server
            .get_as(admin, &format!("/v1/accounts/{customer}?as_of=2"))
            .await;
        assert_eq!(not_yet.status_code(), 404, "the account did not exist yet");

        // Server: renamed, partner access granted.
        let servers = get(
            &w.server,
            admin,
            &format!("/v1/accounts/{customer}/servers"),
        )
        .await;
        let server_id = servers["servers"][0]["server_id"]
            .as_str()
            .unwrap()
            .to_owned();
        send(
            &w.server,
            "patch",
            admin,
            &format!("/v1/servers/{server_id}"),
            json!({"name": "Hall Wall"}),
        )
        .await;
        send(
            &w.server,
            "put",
            admin,
            &format!("/v1/servers/{server_id}/partner-access"),
            json!({"granted": true}),
        )
        .await;
        let entries = history(&w, "server", &server_id).await;
        assert_eq!(entries[0]["event_type"], "server.registered");
        assert_eq!(entries[0]["after"]["name"], "Lobby Wall");
        assert_eq!(entries[0]["after"]["account_id"], customer.as_str());
        let update = entry_of(&entries, "server.renamed");
        assert_eq!(update["before"], json!({ "name": "Lobby Wall" }));
        assert_eq!(update["after"], json!({ "name": "Hall Wall" }));
        assert_eq!(update["actor_email"], "owner@customer.example");
        let grant = entry_of(&entries, "server.partner_access_granted");
        assert_eq!(
            grant["before"],
            json!({ "partner_access": false, "partner_access_state": "none" })
        );
        assert_eq!(
            grant["after"],
            json!({ "partner_access": true, "partner_access_state": "granted" })
        );
        let then = get(
            &w.server,
            admin,
            &format!(
                "/v1/accounts/{customer}/servers?as_of={}",
                update["position"].as_u64().unwrap() - 1
            ),
        )
        .await;
        assert_eq!(then["servers"][0]["name"], "Lobby Wall");
        assert_eq!(then["servers"][0]["partner_access"], false);

        // License: seats changed, users assigned and released, cancelled.
        let license = send(
            &w.server,
            "post",
            &w.root,
            &format!("/v1/accounts/{customer}/licenses"),
            json!({"product": "Signage Pro", "seats": 2}),
        )
        .await;
        let license_id = license["license_id"].as_str().unwrap().to_owned();
        let seats = send(
            &w.server,
            "put",
            &w.root,
            &format!("/v1/licenses/{license_id}/seats"),
            json!({"seats": 5}),
        )
        .await;
        let seats_at = seats["position"].as_u64().unwrap();
        let seats_time = t
            .store
            .read_all(seats_at, 1, &portal_ledger::store::ReadFilter::all())
            .await
            .unwrap()[0]
            .recorded_at;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        send(
            &w.server,
            "post",
            admin,
            &format!("/v1/licenses/{license_id}/assignments"),
            json!({"user_ids": [staff0, staff1]}),
        )
        .await;
        send(
            &w.server,
            "post",
            admin,
            &format!("/v1/licenses/{license_id}/releases"),
            json!({"user_ids": [staff1]}),
        )
        .await;
        let cancelled = send(
            &w.server,
            "post",
            &w.root,
            &format!("/v1/licenses/{license_id}/cancel"),
            json!({}),
        )
        .await;
        let cancelled_at = cancelled["position"].as_u64().unwrap();
        let entries = history(&w, "license", &license_id).await;
        assert_eq!(entries[0]["after"]["seats"], 2);
        assert_eq!(entries[0]["after"]["product"], "Signage Pro");
        let changed = entry_of(&entries, "license.seats_changed");
        assert_eq!(changed["before"], json!({ "seats": 2 }));
        assert_eq!(changed["after"], json!({ "seats": 5 }));
        assert_eq!(changed["actor_email"], "root@platform.example");
        let assigned: Vec<&Value> = entries
            .iter()
            .filter(|e| e["event_type"] == "license.assigned")
            .collect();
        assert!(!assigned.is_empty());
        assert_eq!(assigned[0]["before"], json!({ "assigned": [] }));
        let mut holders: Vec<String> = assigned.last().unwrap()["after"]["assigned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        holders.sort();
        let mut both = vec![staff0.clone(), staff1.clone()];
        both.sort();
        assert_eq!(holders, both);
        // The first release is staff1's (cancelling may release the rest).
        let released = entries
            .iter()
            .find(|e| e["event_type"] == "license.released")
            .unwrap();
        assert_eq!(released["after"], json!({ "assigned": [staff0.clone()] }));
        let cancel = entry_of(&entries, "license.cancelled");
        assert!(cancel["position"].as_u64().unwrap() <= cancelled_at);
        assert_eq!(cancel["before"], json!({ "cancelled": false }));
        assert_eq!(cancel["after"], json!({ "cancelled": true }));
        // Licenses as of a past moment (position, then time) and now.
        let license_at = |as_of: String| {
            let url = format!("/v1/accounts/{customer}/licenses?as_of={as_of}");
            let server = &w.server;
            let token = admin.clone();
            let license_id = license_id.clone();
            async move {
                let page = get(server, &token, &url).await;
                page["licenses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|l| l["license_id"] == license_id.as_str())
                    .cloned()
            }
        };
        let at_creation = license_at((seats_at - 1).to_string()).await.unwrap();
        assert_eq!(at_creation["seats"], 2);
        assert_eq!(at_creation["assigned"], json!([]));
        let at_seats = license_at(enc(&seats_time.to_rfc3339())).await.unwrap();
        assert_eq!(at_seats["seats"], 5);
        assert_eq!(at_seats["cancelled"], false);
        let at_release = license_at(released["position"].to_string()).await.unwrap();
        assert_eq!(at_release["assigned"], json!([staff0.clone()]));
        let at_cancel = license_at(cancelled_at.to_string()).await.unwrap();
        assert_eq!(at_cancel["cancelled"], true);
        assert!(
            license_at("1".into()).await.is_none(),
            "no license at position 1"
        );
        let now = get(
            &w.server,
            admin,
            &format!("/v1/accounts/{customer}/licenses?position={cancelled_at}"),
        )
        .await;
        let now = now["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["license_id"] == license_id.as_str())
            .unwrap()
            .clone();
        assert_eq!(now["seats"], 5);
        assert_ne!(now["seats"], at_creation["seats"]);
        let bad = w
            .server
            .get_as(
                admin,
                &format!("/v1/accounts/{customer}/licenses?as_of=soon"),
            )
            .await;
        assert_eq!(bad.status_code(), 400);
        assert_eq!(bad.json::<Value>()["error"]["code"], "invalid_as_of");

        // Ticket: opened, retitled, closed.
        let ticket = send(
            &w.server,
            "post",
            admin,
            &format!("/v1/accounts/{customer}/tickets"),
            json!({"subject": "Screen flickers", "description": "The lobby wall flickers"}),
        )
        .await;
        let ticket_id = ticket["ticket_id"].as_str().unwrap().to_owned();
        send(
            &w.server,
            "patch",
            admin,
            &format!("/v1/tickets/{ticket_id}"),
            json!({"subject": "Screen flickers at night"}),
        )
        .await;
        send(
            &w.server,
            "post",
            admin,
            &format!("/v1/tickets/{ticket_id}/close"),
            json!({"resolution": "cable replaced"}),
        )
        .await;
        let entries = history(&w, "ticket", &ticket_id).await;
        assert_eq!(entries.len(), 3, "{entries:?}");
        assert_eq!(entries[0]["after"]["subject"], "Screen flickers");
        assert_eq!(
            entries[1]["before"],
            json!({ "subject": "Screen flickers" })
        );
        assert_eq!(
            entries[1]["after"],
            json!({ "subject": "Screen flickers at night" })
        );
        assert_eq!(entries[2]["before"], json!({ "closed": false }));
        assert_eq!(entries[2]["after"], json!({ "closed": true }));
        assert!(entries
            .iter()
            .all(|e| e["actor_email"] == "owner@customer.example"));

        // Unknown kinds and ids are not found.
        for path in [
            format!("/v1/history/printer/{ticket_id}"),
            "/v1/history/ticket/not-a-uuid".to_owned(),
            format!("/v1/history/license/{}", uuid::Uuid::now_v7()),
        ] {
            let response = w.server.get_as(&w.root, &path).await;
            assert_eq!(response.status_code(), 404, "{path}");
        }
    }
);

/// PostgreSQL serves the folded searches from the V14 indexes (with bound
/// parameters, as the service sends them; sequential scans off so a small
/// table does not hide an unusable index).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_serves_folded_searches_from_their_indexes() {
    let t = support::TestStore::new(support::Kind::Postgres).await;
    open_projections(&t.location, Migrations::Apply)
        .await
        .unwrap();
    let client = t.database.as_ref().unwrap().owner_client().await;
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    let plan = |sql: &'static str, value: &'static str| {
        let client = &client;
        async move {
            client
                .batch_execute(&format!("DEALLOCATE ALL; PREPARE q(text) AS {sql}"))
                .await
                .unwrap();
            let rows = client
                .query(&format!("EXPLAIN EXECUTE q('{value}')"), &[])
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    for (sql, value, index) in [
        (
            "SELECT * FROM proj_activity t WHERE actor_email_folded = $1 ORDER BY position DESC LIMIT 100",
            "écran.müller@customer.example",
            "proj_activity_actor_email_folded",
        ),
        (
            "SELECT * FROM proj_activity t WHERE actor_email_folded LIKE $1 ESCAPE '\\' ORDER BY position DESC LIMIT 100",
            "écran.mü%",
            "proj_activity_actor_email_folded",
        ),
        (
            "SELECT * FROM proj_activity t WHERE description_folded LIKE $1 ESCAPE '\\' ORDER BY position DESC LIMIT 100",
            "%überwachung%",
            "proj_activity_description_folded",
        ),
        (
            "SELECT * FROM proj_activity t WHERE outcome = $1 ORDER BY position DESC LIMIT 100",
            "challenged",
            "proj_activity_outcome",
        ),
        (
            "SELECT * FROM proj_activity t WHERE recorded_at < $1::timestamptz ORDER BY recorded_at DESC, position DESC LIMIT 100",
            "2026-01-01T00:00:00Z",
            "proj_activity_recorded_at_desc",
        ),
    ] {
        let plan = plan(sql, value).await;
        assert!(plan.contains(index), "{sql}: {plan}");
        // The index bounds the scan (an Index Cond on the column), not just
        // a filter over a full index scan.
        let column = sql.split(" WHERE ").nth(1).unwrap().split(' ').next().unwrap();
        assert!(
            plan.lines()
                .any(|l| l.contains("Index Cond") && l.contains(column)),
            "{sql}: {plan}"
        );
    }
}

/// PostgreSQL answers "any of these accounts, any of these action types,
/// these words" with one scan of `proj_activity_account_action_type` per
/// (account, type), merged (at 10 M events: a Merge Append of Limits, 4 ms),
/// and never by ANDing bitmaps of every match (the plan that took 1.7 s).
/// The real planner on a table of 60,000 entries, with the generic plan the
/// service asks for (nothing else forced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_merges_ordered_scans_for_several_accounts_and_types() {
    use portal_ledger::app::audit::Visibility;
    use portal_ledger::domain::ids::AccountId;
    use portal_ledger::projection::activity_search::{conditions, ActivityFilter};
    use portal_ledger::projection::query::select;
    use portal_ledger::projection::{Dialect, SqlValue};

    let t = support::TestStore::new(support::Kind::Postgres).await;
    open_projections(&t.location, Migrations::Apply)
        .await
        .unwrap();
    let client = t.database.as_ref().unwrap().owner_client().await;
    let accounts: Vec<AccountId> = (0..40).map(|_| AccountId(uuid::Uuid::now_v7())).collect();
    let ids: Vec<String> = accounts.iter().map(ToString::to_string).collect();
    // The statistics the planner sees must not depend on chance: no
    // autovacuum (an ANALYZE of its own would take another sample, a VACUUM
    // would change the visibility map), and below an ANALYZE whose sample
    // (300 rows per unit of statistics target) holds every row.
    client
        .batch_execute("ALTER TABLE proj_activity SET (autovacuum_enabled = off)")
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO proj_activity (activity_id, position, recorded_at, event_type, action_type, \
             description, description_folded, account_id, targets) \
             SELECT 'a' || g, g, now(), 'x', 'Type ' || (g % 12), 'Set brightness ' || (g % 9), \
             'set brightness ' || (g % 9), ($1::text[])[1 + g % 40], '[]' \
             FROM generate_series(1, 60000) g",
            &[&ids],
        )
        .await
        .unwrap();
    client
        .batch_execute("SET default_statistics_target = 1000; ANALYZE proj_activity")
        .await
        .unwrap();
    let filter = ActivityFilter {
        action_types: Some("Type 3,Type 7".into()),
        q: Some("Brightness 4".into()),
        ..Default::default()
    };
    let scope = Visibility::Accounts(accounts[..30].to_vec());
    let (sql, params) = select(
        "proj_activity",
        "*",
        &conditions(&filter, &scope).unwrap(),
        "position DESC",
        100,
        Dialect::Postgres,
    );
    let texts: Vec<String> = params
        .iter()
        .map(|p| match p {
            SqlValue::Text(Some(text)) => text.clone(),
            other => panic!("only text parameters here: {other:?}"),
        })
        .collect();
    let binds: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = texts
        .iter()
        .map(|t| t as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    // The plan the service runs: the statement prepared, planned once
    // generically (as `PgProjections::query` does for a merge).
    let literals: Vec<String> = texts
        .iter()
        .map(|t| format!("'{}'", t.replace('\'', "''")))
        .collect();
    client
        .batch_execute(&format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE merged AS {sql}"
        ))
        .await
        .unwrap();
    let plan: Vec<String> = client
        .query(
            &format!("EXPLAIN EXECUTE merged({})", literals.join(", ")),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    // Every branch reads its own (account, type) pair from the index
    // (ordered and merged, or — on a table this small — a bitmap of the
    // pair's few rows), and none looks words up in the trigram index.
    assert_eq!(
        plan.matches("proj_activity_account_action_type").count(),
        30 * 2,
        "{plan}"
    );
    assert!(!plan.contains("proj_activity_description_folded"), "{plan}");
    assert!(!plan.contains("BitmapAnd"), "{plan}");
    // And it answers what the filter means: the newest 100 matches.
    let rows = client.query(&sql, &binds).await.unwrap();
    let positions: Vec<i64> = rows.iter().map(|r| r.get("position")).collect();
    let expected: Vec<i64> = (1..=60000i64)
        .rev()
        .filter(|g| matches!(g % 12, 3 | 7) && g % 9 == 4 && (g % 40) < 30)
        .take(100)
        .collect();
    assert_eq!(positions, expected);
}

on_both_backends!(
    combined_filters_over_a_partners_scope_page_like_a_filter_over_everything,
    |t: support::TestStore| async move {
        let mut w = world(&t).await;
        // A second customer and more varied activity in every account of
        // the partner's scope, interleaved, so merged branches must be
        // ordered across accounts and action types.
        let second = w.new_customer("Second Co").await;
        for i in 0..3 {
            for account in [&w.customer, &second, &w.partner] {
                let role = if account == &w.partner {
                    "user"
                } else {
                    "support"
                };
                let created = post(&w.server, &w.partner_admin, &format!("/v1/accounts/{account}/users"), json!({"email": format!("mix{i}@{account}.example"), "name": format!("Wall Mix {i}"), "role": role, "password": "mixed password!"})).await;
                w.last_position = created["position"].as_u64().unwrap();
                if account != &w.partner {
                    let server = post(
                        &w.server,
                        &w.partner_admin,
                        &format!("/v1/accounts/{account}/servers"),
                        json!({"name": format!("Wall {i}")}),
                    )
                    .await;
                    w.last_position = server["position"].as_u64().unwrap();
                }
            }
        }
        let scope = [w.partner.clone(), w.customer.clone(), second.clone()];
        let everything = w.entries(&w.root, "limit=500").await;
        // Of its customers' entries, a partner's staff do not see those
        // naming a server whose grant does not stand (the customer's own
        // Lobby Wall, registered without it).
        let ungranted: Vec<String> = get(
            &w.server,
            &w.customer_admin,
            &format!(
                "/v1/accounts/{}/servers?position={}",
                w.customer, w.last_position
            ),
        )
        .await["servers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["partner_access"] == 0)
            .map(|s| s["server_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ungranted.len(), 1, "{ungranted:?}");
        let names_ungranted = |e: &Value| {
            e["targets"].as_array().is_some_and(|targets| {
                targets.iter().any(|t| {
                    t["type"] == "server" && ungranted.iter().any(|id| t["id"] == id.as_str())
                })
            })
        };
        let in_scope: Vec<&Value> = everything
            .iter()
            .filter(|e| scope.iter().any(|a| e["account_id"] == a.as_str()))
            .filter(|e| !names_ungranted(e))
            .collect();
        assert!(in_scope.len() > 20, "{}", in_scope.len());
        assert!(everything.len() > in_scope.len());
        // Two action types that occur in the scope, and a window over its
        // middle.
        // The most frequent action type of entries about a "wall", and the
        // most frequent other one.
        let wall = |e: &Value| {
            e["description"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains("wall")
        };
        let most_frequent = |keep: &dyn Fn(&Value) -> bool| {
            let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
            for e in in_scope.iter().filter(|e| keep(e)) {
                *counts
                    .entry(e["action_type"].as_str().unwrap_or_default())
                    .or_default() += 1;
            }
            counts
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(t, _)| t)
                .unwrap()
        };
        let about_walls = most_frequent(&wall);
        let other = most_frequent(&|e: &Value| e["action_type"] != about_walls);
        let types = [about_walls, other];
        let (from, to) = (
            time(in_scope[in_scope.len() * 2 / 3]),
            time(in_scope[in_scope.len() / 4]),
        );
        let two_types = format!("{},{}", types[0], types[1]);
        let encode = |s: &str| {
            s.replace(' ', "%20")
                .replace(',', "%2C")
                .replace(':', "%3A")
                .replace('+', "%2B")
        };
        let window = format!(
            "from={}&to={}",
            encode(&from.to_rfc3339()),
            encode(&to.to_rfc3339())
        );
        type Keep<'a> = Box<dyn Fn(&Value) -> bool + 'a>;
        let cases: Vec<(String, Keep)> = vec![
            ("".into(), Box::new(|_: &Value| true)),
            (
                format!("action_types={}", encode(&two_types)),
                Box::new(|e: &Value| e["action_type"] == types[0] || e["action_type"] == types[1]),
            ),
            (
                format!("action_types={}&q=WALL", encode(&two_types)),
                Box::new(|e: &Value| {
                    (e["action_type"] == types[0] || e["action_type"] == types[1]) && wall(e)
                }),
            ),
            (
                window.clone(),
                Box::new(|e: &Value| time(e) >= from && time(e) < to),
            ),
            (
                format!("{window}&action_types={}", encode(&two_types)),
                Box::new(|e: &Value| {
                    time(e) >= from
                        && time(e) < to
                        && (e["action_type"] == types[0] || e["action_type"] == types[1])
                }),
            ),
        ];
        for (query, keep) in &cases {
            let expected: Vec<u64> = positions(
                &in_scope
                    .iter()
                    .copied()
                    .filter(|e| keep(e))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            assert!(expected.len() >= 2, "{query}: a case that tests nothing");
            // Pages of 2, cursor after cursor, as the partner's auditor.
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = w
                    .search(
                        &w.partner_auditor,
                        &format!(
                            "limit=2&{query}{}",
                            cursor
                                .as_ref()
                                .map(|c| format!("&cursor={c}"))
                                .unwrap_or_default()
                        ),
                    )
                    .await;
                seen.extend(positions(page["entries"].as_array().unwrap()));
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
                assert!(seen.len() <= in_scope.len() + 2, "{query}: runaway cursor");
            }
            assert_eq!(seen, expected, "{query}");
            // The export honors the same filters in the same order.
            let exported: Vec<u64> = export_text(
                &w.server,
                &w.partner_auditor,
                w.last_position,
                &format!("format=ndjson&{query}"),
            )
            .await
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["position"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
            assert_eq!(exported, expected, "export {query}");
        }
        // A window after everything, and one before anything: empty.
        let later = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        assert!(w
            .entries(&w.partner_auditor, &format!("from={}", encode(&later)))
            .await
            .is_empty());
        assert!(w
            .entries(&w.partner_auditor, "to=2000-01-01T00%3A00%3A00Z")
            .await
            .is_empty());
    }
);
