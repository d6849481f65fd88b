//! The read side operators rely on, on both backends: free text with
//! control characters never enters the log (every free-text field of every
//! command, over HTTP); what the log holds anyway (a legacy import with NUL)
//! projects and rebuilds; a projector that cannot apply an event reports it
//! and holds up only the reads that need it; leases fence a process that
//! lost its projector.

use crate::support;

use std::time::Duration;

use portal_ledger::projection::lease::{Lease, Takeover};
use portal_ledger::projection::runner::Projections;
use portal_ledger::projection::{
    OnConflict, ProjectionError, RowChange, SqlValue, NUL_REPLACEMENT,
};
use portal_ledger::store::ExpectedVersion;
use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};

/// A partner-kit row: the projection table these store-level tests write.
fn kit_item(
    id: &str,
    title: Option<&str>,
    url: Option<&str>,
    position: i64,
    on_conflict: OnConflict,
) -> RowChange {
    let epoch = chrono::DateTime::UNIX_EPOCH;
    RowChange::Insert {
        table: "proj_partner_kit",
        columns: vec![
            ("item_id", SqlValue::text(id)),
            ("title", SqlValue::Text(title.map(str::to_owned))),
            ("description", SqlValue::text("d")),
            ("url", SqlValue::Text(url.map(str::to_owned))),
            ("category", SqlValue::text("c")),
            ("published_at", SqlValue::Time(Some(epoch))),
            ("updated_at", SqlValue::Time(Some(epoch))),
            ("position", SqlValue::Int(Some(position))),
        ],
        on_conflict,
    }
}

/// Sends `body` and returns the answer's status and error code.
async fn send(api: &TestApi, token: &str, method: &str, path: &str, body: &Value) -> (u16, String) {
    let request = match method {
        "POST" => api.server.post(path),
        "PUT" => api.server.put(path),
        "PATCH" => api.server.patch(path),
        other => panic!("no such method {other}"),
    };
    let response = request.authorization_bearer(token).json(body).await;
    (response.status_code().as_u16(), error_code(&response))
}

/// Creates something over HTTP (expecting 201) and returns the answer.
async fn created(api: &TestApi, token: &str, path: &str, body: Value) -> Value {
    let response = api.server.post_as(token, path).json(&body).await;
    assert_eq!(response.status_code(), 201, "{path}: {}", response.text());
    response.json()
}

/// `template` with the string at `field` (a dotted path) set to `value`.
fn with_field(template: &Value, field: &str, value: &str) -> Value {
    let mut body = template.clone();
    let mut at = &mut body;
    for part in field.split('.') {
        at = &mut at[part];
    }
    *at = Value::String(value.to_owned());
    body
}

on_both_backends!(
    free_text_with_control_characters_never_reaches_the_log,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let root = api.root().await;
        let org = created(
            &api,
            &root,
            "/v1/accounts",
            json!({"kind": "organization", "name": "Customer"}),
        )
        .await;
        let org = org["account_id"].as_str().unwrap().to_owned();
        let user = created(
            &api,
            &root,
            &format!("/v1/accounts/{org}/users"),
            json!({"email": "ann@customer.example", "name": "Ann", "role": "admin", "password": "correct horse battery"}),
        )
        .await["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let server = created(
            &api,
            &root,
            &format!("/v1/accounts/{org}/servers"),
            json!({"name": "Wall"}),
        )
        .await["server_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let ticket = created(
            &api,
            &root,
            &format!("/v1/accounts/{org}/tickets"),
            json!({"subject": "Flicker", "description": "Since Monday"}),
        )
        .await["ticket_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let quote = created(
            &api,
            &root,
            &format!("/v1/accounts/{org}/quotes"),
            json!({"product": "Wall Pro", "seats": 2, "unit_price_cents": 100, "currency": "EUR"}),
        )
        .await["quote_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let item = created(
            &api,
            &root,
            "/v1/partner-kit",
            json!({"title": "Deck", "description": "Slides", "url": "https://example.com/deck", "category": "sales"}),
        )
        .await["item_id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Every command body with free text, and each of its text fields.
        let commands: Vec<(&str, String, Value, Vec<&str>)> = vec![
            (
                "POST",
                "/v1/accounts".into(),
                json!({"kind": "organization", "name": "N"}),
                vec!["name"],
            ),
            (
                "PATCH",
                format!("/v1/accounts/{org}"),
                json!({"name": "N"}),
                vec!["name"],
            ),
            (
                "POST",
                format!("/v1/accounts/{org}/users"),
                json!({"email": "bob@customer.example", "name": "Bob", "role": "regular", "password": "correct horse battery", "username": "bob"}),
                vec!["email", "name", "role", "password", "username"],
            ),
            (
                "PATCH",
                format!("/v1/users/{user}"),
                json!({"name": "Ann B", "email": "ann.b@customer.example", "username": "annb"}),
                vec!["name", "email", "username"],
            ),
            (
                "PUT",
                format!("/v1/users/{user}/role"),
                json!({"role": "regular"}),
                vec!["role"],
            ),
            (
                "POST",
                format!("/v1/users/{user}/trusted-locations"),
                json!({"ip": "203.0.113.7"}),
                vec!["ip"],
            ),
            (
                "POST",
                format!("/v1/accounts/{org}/invitations"),
                json!({"email": "cy@customer.example", "role": "regular"}),
                vec!["email", "role"],
            ),
            (
                "POST",
                format!("/v1/accounts/{}/invitations", api.platform),
                json!({"email": "new@partner.example", "tenant": {"kind": "partner", "name": "New Partner"}}),
                vec!["email", "tenant.name"],
            ),
            (
                "POST",
                "/v1/invitations/accept".into(),
                json!({"code": "x.y", "name": "Cy", "password": "correct horse battery"}),
                vec!["code", "name", "password"],
            ),
            (
                "POST",
                "/v1/sessions".into(),
                json!({"email": "ann@customer.example", "password": "correct horse battery", "code": "123456"}),
                vec!["email", "password", "code"],
            ),
            (
                "PUT",
                "/v1/me/password".into(),
                json!({"current_password": "x", "new_password": "correct horse battery staple"}),
                vec!["current_password", "new_password"],
            ),
            (
                "POST",
                format!("/v1/accounts/{org}/licenses"),
                json!({"product": "Wall", "seats": 3}),
                vec!["product"],
            ),
            (
                "POST",
                format!("/v1/accounts/{org}/servers"),
                json!({"name": "S", "location": "Lobby"}),
                vec!["name", "location"],
            ),
            (
                "PATCH",
                format!("/v1/servers/{server}"),
                json!({"name": "S2", "location": "Hall"}),
                vec!["name", "location"],
            ),
            (
                "POST",
                format!("/v1/servers/{server}/actions"),
                json!({"action": "Reboot"}),
                vec!["action"],
            ),
            (
                "PUT",
                format!("/v1/servers/{server}/configuration"),
                json!({"summary": "4K"}),
                vec!["summary"],
            ),
            (
                "POST",
                format!("/v1/accounts/{org}/tickets"),
                json!({"subject": "S", "description": "D"}),
                vec!["subject", "description"],
            ),
            (
                "PATCH",
                format!("/v1/tickets/{ticket}"),
                json!({"subject": "S", "comment": "C"}),
                vec!["subject", "comment"],
            ),
            (
                "POST",
                format!("/v1/tickets/{ticket}/close"),
                json!({"resolution": "R"}),
                vec!["resolution"],
            ),
            (
                "POST",
                format!("/v1/accounts/{org}/quotes"),
                json!({"product": "P", "seats": 1, "unit_price_cents": 1, "currency": "EUR", "valid_until": "2999-12-31", "note": "N"}),
                vec!["product", "currency", "valid_until", "note"],
            ),
            (
                "PATCH",
                format!("/v1/quotes/{quote}"),
                json!({"product": "P", "currency": "USD", "valid_until": "2999-12-31", "note": "N"}),
                vec!["product", "currency", "valid_until", "note"],
            ),
            (
                "POST",
                format!("/v1/quotes/{quote}/decline"),
                json!({"reason": "R"}),
                vec!["reason"],
            ),
            (
                "POST",
                "/v1/partner-kit".into(),
                json!({"title": "T", "description": "D", "content": "C", "category": "c"}),
                vec!["title", "description", "content", "category"],
            ),
            (
                "PATCH",
                format!("/v1/partner-kit/{item}"),
                json!({"title": "T", "description": "D", "url": "https://example.com/x", "category": "c"}),
                vec!["title", "description", "url", "category"],
            ),
            (
                "PUT",
                format!("/v1/users/{user}/notification-preferences"),
                json!({"frequency": "daily", "categories": ["users"]}),
                vec!["frequency", "categories.0"],
            ),
        ];
        let head = t.store.head().await.unwrap().position;
        let mut checked = 0;
        for (method, path, template, fields) in &commands {
            for field in fields {
                let field = field.replace(".0", "");
                let template = if field == "categories" {
                    json!({"frequency": "daily", "categories": "x"})
                } else {
                    template.clone()
                };
                for bad in [
                    "a\u{0}b",
                    "\u{0}",
                    "a\u{1b}[2Jb",
                    "a\u{7f}b",
                    "a\u{85}b",
                    "\u{8}back",
                ] {
                    let body = with_field(&template, &field, bad);
                    assert_eq!(
                        send(&api, &root, method, path, &body).await,
                        (422, "control_character".to_owned()),
                        "{method} {path} {field} = {bad:?}"
                    );
                    checked += 1;
                }
                // A lone surrogate escaped in JSON is no text at all.
                let body = with_field(&template, &field, "SURROGATE")
                    .to_string()
                    .replace("SURROGATE", "a\\ud800b");
                let response = api
                    .server
                    .method(method.parse().unwrap(), path)
                    .authorization_bearer(&root)
                    .content_type("application/json")
                    .bytes(body.into())
                    .await;
                assert_eq!(
                    (response.status_code().as_u16(), error_code(&response)),
                    (400, "invalid_json".to_owned()),
                    "{method} {path} {field}: {}",
                    response.text()
                );
                // A 1 MiB string is over any body limit.
                let body = with_field(&template, &field, &"x".repeat(1 << 20));
                assert_eq!(
                    send(&api, &root, method, path, &body).await,
                    (413, "body_too_large".to_owned()),
                    "{method} {path} {field}"
                );
                checked += 2;
            }
        }
        assert!(checked > 400, "{checked}");
        assert_eq!(
            t.store.head().await.unwrap().position,
            head,
            "nothing appended"
        );

        // The domain keeps one-line fields to one line; multi-line fields
        // keep newlines and tabs.
        let path = format!("/v1/accounts/{org}/tickets");
        assert_eq!(
            send(
                &api,
                &root,
                "POST",
                &path,
                &json!({"subject": "a\nb", "description": "d"})
            )
            .await,
            (422, "control_character".to_owned())
        );
        assert_eq!(
            send(
                &api,
                &root,
                "POST",
                &format!("/v1/accounts/{org}/servers"),
                &json!({"name": "a\tb"})
            )
            .await,
            (422, "control_character".to_owned())
        );
        assert_eq!(
            t.store.head().await.unwrap().position,
            head,
            "nothing appended"
        );
        let opened = created(
            &api,
            &root,
            &path,
            json!({"subject": "Two lines", "description": "first\r\n\tsecond"}),
        )
        .await;
        assert!(opened["position"].as_u64().unwrap() > head);

        // A CSV import names the row and column.
        let response = api
            .server
            .post_as(&root, &format!("/v1/accounts/{org}/users/import"))
            .content_type("text/csv")
            .bytes("email,name,role\ndee@customer.example,\"Dee\u{1b}[0m\",regular\n".into())
            .await;
        assert_eq!(response.status_code(), 422, "{}", response.text());
        let report: Value = response.json();
        assert_eq!(report["error"]["code"], "import_rejected");
        assert_eq!(report["rows"][0]["problems"][0]["column"], "name");
        assert_eq!(
            report["rows"][0]["problems"][0]["code"],
            "control_character"
        );
    }
);

/// A generated portal whose names, subjects and descriptions hold NUL, as
/// a legacy system (or an older version of this service) may have written.
fn legacy_portal_with_nul() -> Vec<u8> {
    let mut generated = Vec::new();
    portal_ledger::generate::generate(
        11,
        portal_ledger::generate::Scale::for_events(1_500),
        &mut generated,
    )
    .unwrap();
    let text = String::from_utf8(generated).unwrap();
    // Strings of payloads and metadata, keys untouched.
    text.replace("\"subject\":\"", "\"subject\":\"\\u0000")
        .replace("\"description\":\"", "\"description\":\"nul\\u0000 ")
        .replace("\"name\":\"", "\"name\":\"\\u0000")
        .into_bytes()
}

on_both_backends!(
    a_legacy_import_with_nul_projects_and_rebuilds,
    |t: support::TestStore| async move {
        let input = legacy_portal_with_nul();
        assert!(input.windows(6).any(|w| w == b"\\u0000"));
        portal_ledger::transfer::import::import_ndjson(
            t.backend.bulk(),
            std::io::Cursor::new(input),
            |_| {},
        )
        .await
        .unwrap();
        let head = t.store.head().await.unwrap().position;
        // The log keeps the exact text.
        let first = t
            .store
            .read_all(1, 10_000, &portal_ledger::store::ReadFilter::all())
            .await
            .unwrap();
        assert!(first.iter().any(|e| e.payload.as_str().contains("\\u0000")));

        let projections = t.live_projections().await;
        assert!(projections.wait_for(head, support::PROJECTION_WAIT).await);
        let status = projections.status().await.unwrap();
        assert!(
            status
                .iter()
                .all(|p| p.failure.is_none() && p.position == head),
            "{status:?}"
        );

        let target = projections.target().clone();
        let replaced = NUL_REPLACEMENT.to_string();
        let tickets = target
            .fetch("proj_tickets", &[], "ticket_id", 100_000)
            .await
            .unwrap();
        assert!(!tickets.is_empty());
        assert!(
            tickets
                .iter()
                .all(|r| r["subject"].as_str().unwrap().starts_with(&replaced)),
            "{tickets:?}"
        );
        let accounts = target
            .fetch("proj_accounts", &[], "account_id", 100_000)
            .await
            .unwrap();
        assert!(accounts
            .iter()
            .all(|r| r["name"].as_str().unwrap().starts_with(&replaced)));
        let activity = target
            .fetch("proj_activity", &[], "position", 100_000)
            .await
            .unwrap();
        assert!(activity.iter().any(|r| r["description"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("nul{replaced} ")))));

        let mut before = Vec::new();
        for table in [
            "proj_tickets",
            "proj_accounts",
            "proj_users",
            "proj_activity",
            "proj_servers",
        ] {
            before.push(target.dump(table).await.unwrap());
        }
        projections.stop();
        let rebuilder = Projections::new(t.store.clone(), t.personal.clone(), target.clone());
        rebuilder.rebuild(&[], &mut |_, _| {}).await.unwrap();
        let mut after = Vec::new();
        for table in [
            "proj_tickets",
            "proj_accounts",
            "proj_users",
            "proj_activity",
            "proj_servers",
        ] {
            after.push(target.dump(table).await.unwrap());
        }
        assert_eq!(before, after, "a rebuild gives the same rows");
    }
);

on_both_backends!(
    a_projector_that_cannot_apply_an_event_holds_up_only_its_own_reads,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let root = api.root().await;
        let org = created(
            &api,
            &root,
            "/v1/accounts",
            json!({"kind": "organization", "name": "Customer"}),
        )
        .await;
        let org = org["account_id"].as_str().unwrap().to_owned();
        // An event the tickets projector cannot read (a legacy system wrote
        // its subject as a number); the log accepts any JSON.
        let ticket = uuid::Uuid::now_v7();
        t.store
            .append(support::append_one(
                &format!("ticket-{ticket}"),
                ExpectedVersion::NoStream,
                support::event(
                    "ticket.opened",
                    json!({"ticket_id": ticket, "account_id": org, "subject": 42, "description": "x"}),
                ),
            ))
            .await
            .unwrap();
        let poison = t.store.head().await.unwrap().position;
        let later = created(
            &api,
            &root,
            &format!("/v1/accounts/{org}/servers"),
            json!({"name": "Wall"}),
        )
        .await;
        let position = later["position"].as_u64().unwrap();

        // Unrelated reads answer; the tickets read waits and says why.
        let servers = api
            .server
            .get_as(
                &root,
                &format!("/v1/accounts/{org}/servers?position={position}"),
            )
            .await;
        assert_eq!(servers.status_code(), 200, "{}", servers.text());
        assert_eq!(
            servers.json::<Value>()["servers"].as_array().unwrap().len(),
            1
        );
        let tickets = api
            .server
            .get_as(
                &root,
                &format!("/v1/accounts/{org}/tickets?position={position}"),
            )
            .await;
        assert_eq!(
            (tickets.status_code().as_u16(), error_code(&tickets)),
            (503, "not_yet_projected".to_owned())
        );

        // Everything before the event is applied; readiness names it.
        let deadline = std::time::Instant::now() + support::PROJECTION_WAIT;
        let ready = loop {
            let ready: Value = api.server.get("/readyz").await.json();
            if ready["status"] == "degraded" || std::time::Instant::now() > deadline {
                break ready;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(ready["status"], "degraded", "{ready}");
        let projectors = ready["projectors"].as_array().unwrap();
        let stuck = projectors
            .iter()
            .find(|p| p["projector"] == "tickets")
            .unwrap();
        assert_eq!(stuck["position"], poison - 1, "{stuck}");
        let failure = stuck["failure"].as_str().unwrap();
        assert!(
            failure.starts_with(&format!("position {poison}: ")),
            "{failure}"
        );
        assert_eq!(stuck["here"], true);
        assert!(stuck["lag_events"].as_u64().unwrap() >= 2);
        for p in projectors.iter().filter(|p| p["projector"] != "tickets") {
            assert!(p["failure"].is_null(), "{p}");
        }
        assert_eq!(ready["process"], stuck["holder"]);
    }
);

on_both_backends!(
    a_commit_is_fenced_by_the_lease_and_the_checkpoint,
    |t: support::TestStore| async move {
        let target = portal_ledger::backend::open_projections(
            &t.location,
            portal_ledger::backend::Migrations::Apply,
        )
        .await
        .unwrap();
        let ttl = Duration::from_millis(400);
        let change = |n: &str| kit_item(n, Some("t"), None, 1, OnConflict::Replace);
        let a = target
            .acquire_lease("partner_kit", "a", ttl, Takeover::IfFree)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            target
                .acquire_lease("partner_kit", "b", ttl, Takeover::IfFree)
                .await
                .unwrap(),
            None
        );
        target.commit(&a, &[change("1")], 0, 5).await.unwrap();
        // The checkpoint moved: a batch from the old position is refused.
        let stale = target.commit(&a, &[change("2")], 0, 5).await.unwrap_err();
        assert!(stale.is_fenced(), "{stale}");
        assert!(target.renew_lease(&a, ttl).await.unwrap());

        // A holder paused past its lease: another takes over with a new
        // token, and the old holder can neither renew nor commit.
        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
        let b = target
            .acquire_lease("partner_kit", "b", ttl, Takeover::IfFree)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.token, a.token + 1);
        assert!(!target.renew_lease(&a, ttl).await.unwrap());
        let late = target.commit(&a, &[change("3")], 5, 6).await.unwrap_err();
        assert!(matches!(late, ProjectionError::Fenced { .. }), "{late}");
        target.commit(&b, &[change("4")], 5, 6).await.unwrap();
        let rows = target.dump("proj_partner_kit").await.unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows
            .iter()
            .all(|r| !r.contains("\"3\"") && !r.contains("\"2\"")));

        // A rebuild preempts; releasing hands over at once.
        let c = target
            .acquire_lease("partner_kit", "c", ttl, Takeover::Preempt)
            .await
            .unwrap()
            .unwrap();
        assert!(c.token > b.token);
        assert!(target.commit(&b, &[], 6, 7).await.unwrap_err().is_fenced());
        target.release_lease(&c).await.unwrap();
        let again: Option<Lease> = target
            .acquire_lease("partner_kit", "b", ttl, Takeover::IfFree)
            .await
            .unwrap();
        assert!(again.is_some());
        let rows = target.projector_rows().await.unwrap();
        let row = rows.iter().find(|r| r.projector == "partner_kit").unwrap();
        assert_eq!((row.position, row.holder.as_deref()), (6, Some("b")));
    }
);

on_both_backends!(
    a_batch_leaves_the_rows_its_changes_leave_one_at_a_time,
    |t: support::TestStore| async move {
        // A batch is sent as few statements as possible (runs of inserts
        // as one statement, updates of one row merged): what it leaves
        // must be what the same changes leave one by one.
        use portal_ledger::projection::SetExpr;
        let target = portal_ledger::backend::open_projections(
            &t.location,
            portal_ledger::backend::Migrations::Apply,
        )
        .await
        .unwrap();
        let epoch = chrono::DateTime::UNIX_EPOCH;
        let insert = |id: &str, url: Option<&str>, position: i64, on_conflict| {
            kit_item(id, Some("t"), url, position, on_conflict)
        };
        let update = |id: &str, set: Vec<(&'static str, SetExpr)>| RowChange::Update {
            table: "proj_partner_kit",
            key: ("item_id", SqlValue::text(id)),
            set,
        };
        let changes = vec![
            // A run keeping the first of two rows with one key…
            insert("a", Some("first"), 1, OnConflict::Ignore),
            insert("b", None, 2, OnConflict::Ignore),
            insert("a", Some("second"), 3, OnConflict::Ignore),
            // …one replacing a key twice…
            insert("c", Some("first"), 4, OnConflict::Replace),
            insert("c", Some("second"), 5, OnConflict::Replace),
            insert("d", Some("d"), 6, OnConflict::Replace),
            // …updates of rows inserted above, merged and folded…
            update("c", vec![("position", SetExpr::Add(10))]),
            update("b", vec![("url", SetExpr::IfUnset(SqlValue::text("set")))]),
            update("c", vec![("position", SetExpr::Add(5))]),
            update(
                "b",
                vec![("url", SetExpr::IfUnset(SqlValue::text("not set")))],
            ),
            update(
                "d",
                vec![(
                    "updated_at",
                    SetExpr::Value(SqlValue::Time(Some(epoch + chrono::Duration::days(1)))),
                )],
            ),
            // …and a run after them.
            insert("e", Some("e"), 7, OnConflict::Ignore),
            insert("a", Some("third"), 8, OnConflict::Ignore),
            insert("f", Some("f"), 9, OnConflict::Ignore),
        ];
        let lease = target
            .acquire_lease(
                "partner_kit",
                "t",
                Duration::from_secs(30),
                Takeover::IfFree,
            )
            .await
            .unwrap()
            .unwrap();
        target.commit(&lease, &changes, 0, 1).await.unwrap();
        let batched = target.dump("proj_partner_kit").await.unwrap();
        let wipe: Vec<RowChange> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|id| RowChange::Delete {
                table: "proj_partner_kit",
                key: vec![("item_id", SqlValue::text(*id))],
            })
            .collect();
        target.commit(&lease, &wipe, 1, 2).await.unwrap();
        assert!(target.dump("proj_partner_kit").await.unwrap().is_empty());
        for (at, change) in changes.iter().enumerate() {
            let from = 2 + at as u64;
            target
                .commit(&lease, std::slice::from_ref(change), from, from + 1)
                .await
                .unwrap();
        }
        let one_by_one = target.dump("proj_partner_kit").await.unwrap();
        assert_eq!(batched, one_by_one);
        assert_eq!(batched.len(), 6, "{batched:?}");
        let row = |id: &str| -> Value {
            batched
                .iter()
                .map(|r| serde_json::from_str::<Value>(r).unwrap())
                .find(|r| r["item_id"] == id)
                .unwrap()
        };
        assert_eq!(row("a")["url"], "first");
        assert_eq!(row("b")["url"], "set");
        assert_eq!(row("c")["url"], "second");
        assert_eq!(row("c")["position"], 20);
        assert_ne!(row("d")["updated_at"], row("d")["published_at"]);
    }
);

on_both_backends!(
    batches_committed_at_once_answer_each_for_itself,
    |t: support::TestStore| async move {
        // Live batches ready at the same moment commit in one transaction
        // on PostgreSQL: a stale batch or one that breaks a constraint must
        // fail alone, and the others commit.
        let target = portal_ledger::backend::open_projections(
            &t.location,
            portal_ledger::backend::Migrations::Apply,
        )
        .await
        .unwrap();
        let ttl = Duration::from_secs(30);
        let lease = |name: &'static str| {
            let target = target.clone();
            async move {
                target
                    .acquire_lease(name, "t", ttl, Takeover::IfFree)
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        let (kit, quotes, tickets) = (
            lease("partner_kit").await,
            lease("quotes").await,
            lease("tickets").await,
        );
        let item =
            |id: &str, title: Option<&str>| kit_item(id, title, None, 1, OnConflict::Replace);
        for round in 0..20u64 {
            let ok = [item(&format!("ok-{round}"), Some("t"))];
            let bad = [item(&format!("bad-{round}"), None)];
            // The first polled commits alone and the two behind it form
            // a group: the good batch beside the stale one, then beside the
            // broken one.
            let mut commits: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>> = vec![
                // Its checkpoint is not at 7 + round.
                Box::pin(target.commit(&quotes, &[], 7 + round, 8 + round)),
                Box::pin(target.commit(&kit, &ok, round, round + 1)),
                // A title may not be NULL.
                Box::pin(target.commit(&tickets, &bad, 0, 1)),
            ];
            let leader = if round % 2 == 0 { 0 } else { 2 };
            commits.swap(0, leader);
            let mut results = futures_util::future::join_all(commits).await;
            results.swap(0, leader);
            let [stale, good, broken]: [Result<(), ProjectionError>; 3] =
                results.try_into().map_err(|_| "three answers").unwrap();
            good.unwrap();
            assert!(stale.unwrap_err().is_fenced());
            let broken = broken.unwrap_err();
            assert!(!broken.is_fenced(), "{broken}");
        }
        let rows = target.dump("proj_partner_kit").await.unwrap();
        assert_eq!(rows.len(), 20, "{rows:?}");
        assert!(rows.iter().all(|r| r.contains("ok-")));
        let positions: Vec<(String, u64)> = target
            .projector_rows()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.projector, r.position))
            .collect();
        assert!(positions.contains(&("partner_kit".to_owned(), 20)));
        assert!(positions.contains(&("quotes".to_owned(), 0)));
        assert!(positions.contains(&("tickets".to_owned(), 0)));
    }
);

on_both_backends!(
    a_body_number_the_log_would_change_is_refused_with_its_path,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let root = api.root().await;
        let path = format!("/v1/accounts/{}/tickets", api.platform);
        let head = t.store.head().await.unwrap().position;
        // Raw text: a JSON library on the client would round it first.
        for (body, at) in [
            (
                r#"{"subject":"s","description":"d","n":12345678901234567890}"#,
                "body.n",
            ),
            (
                r#"{"subject":"s","description":"d","x":[1,{"y":9007199254740993}]}"#,
                "body.x[1].y",
            ),
        ] {
            let refused = api
                .server
                .post_as(&root, &path)
                .content_type("application/json")
                .bytes(body.as_bytes().to_vec().into())
                .expect_failure()
                .await;
            assert_eq!(error_code(&refused), "inexact_number", "{}", refused.text());
            assert_eq!(refused.status_code(), 422);
            let message = refused.json::<Value>()["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(message.starts_with(at), "{message}");
            assert!(message.contains("send it as a string"), "{message}");
        }
        assert_eq!(
            t.store.head().await.unwrap().position,
            head,
            "nothing appended"
        );
    }
);
