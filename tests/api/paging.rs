//! Every list pages, on both backends: more rows than one page, walked
//! with `next_cursor` until it is absent, gives exactly the rows of one
//! big page in the same order; filters apply before the page is cut;
//! writes between pages neither repeat nor skip a row; a cursor is good
//! only for the query that gave it out; bad limits and cursors are 400s.

use crate::support;

use serde_json::{json, Value};
use support::http::{answer, AsCaller, TestApi};
use support::world::{member, World};

/// Pages of `size` through `path` (which has its own query, or none):
/// every row, how many pages it took. Each page but the last is full and
/// has a cursor; the last has none.
async fn walk(
    api: &TestApi,
    token: &str,
    path: &str,
    field: &str,
    size: usize,
) -> (Vec<Value>, usize) {
    let join = if path.contains('?') { '&' } else { '?' };
    let mut rows = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            None => format!("{path}{join}limit={size}"),
            Some(c) => format!("{path}{join}limit={size}&cursor={c}"),
        };
        let response = api.server.get_as(token, &url).await;
        assert_eq!(response.status_code(), 200, "{url}: {}", response.text());
        let page: Value = response.json();
        let got = page[field]
            .as_array()
            .unwrap_or_else(|| panic!("{url}: {page}"))
            .clone();
        pages += 1;
        assert!(pages < 100, "{url}: no end");
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(next) => {
                assert_eq!(got.len(), size, "{url}: a page before the last is full");
                cursor = Some(next.to_owned());
                rows.extend(got);
            }
            None => {
                assert!(page.get("next_cursor").is_none(), "{url}: absent, not null");
                assert!(got.len() <= size, "{url}");
                rows.extend(got);
                return (rows, pages);
            }
        }
    }
}

/// One page of everything (the cap), for comparison.
async fn whole(api: &TestApi, token: &str, path: &str, field: &str) -> Vec<Value> {
    let join = if path.contains('?') { '&' } else { '?' };
    let page: Value = api
        .server
        .get_as(token, &format!("{path}{join}limit=500"))
        .await
        .json();
    assert!(page.get("next_cursor").is_none(), "{path}: {page}");
    page[field].as_array().cloned().unwrap_or_default()
}

/// Walks `path` two rows at a time and checks the pages add up to the
/// whole list: same rows, same order, more than one page.
async fn pages_add_up(api: &TestApi, token: &str, path: &str, field: &str) -> Vec<Value> {
    let all = whole(api, token, path, field).await;
    assert!(
        all.len() > 2,
        "{path}: needs more rows than a page: {all:?}"
    );
    let (walked, pages) = walk(api, token, path, field, 2).await;
    assert_eq!(walked, all, "{path}: the pages are not the list");
    assert_eq!(pages, all.len().div_ceil(2), "{path}");
    all
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn created_id(response: &Value, key: &str) -> String {
    response[key]
        .as_str()
        .unwrap_or_else(|| panic!("{response}"))
        .to_owned()
}

on_both_backends!(
    every_list_pages_with_cursors,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let customer = &w.customer;
        let owner = &w.customer_owner.token;
        let partner = &w.partner_admin.token;

        // Users: the customer's two admins and three more.
        for n in 0..3 {
            member(
                &api,
                owner,
                customer,
                &format!("u{n}@customer.example"),
                "regular",
            )
            .await;
        }
        let users = pages_add_up(
            &api,
            owner,
            &format!("/v1/accounts/{customer}/users"),
            "users",
        )
        .await;
        assert_eq!(users.len(), 5);

        // Licenses, servers, tickets, quotes, invitations (and their e-mails).
        let mut last = 0u64;
        for n in 0..3 {
            let made: Value = api
                .server
                .post_as(partner, &format!("/v1/accounts/{customer}/licenses"))
                .json(&json!({ "product": format!("Product {n}"), "seats": 2 }))
                .await
                .json();
            created_id(&made, "license_id");
            let made: Value = api
                .server
                .post_as(owner, &format!("/v1/accounts/{customer}/servers"))
                .json(&json!({ "name": format!("Wall {n}"), "partner_access": true }))
                .await
                .json();
            created_id(&made, "server_id");
            let made: Value = api
                .server
                .post_as(owner, &format!("/v1/accounts/{customer}/tickets"))
                .json(&json!({ "subject": format!("Ticket {n}"), "description": "dark" }))
                .await
                .json();
            created_id(&made, "ticket_id");
            let made: Value = api
            .server
            .post_as(partner, &format!("/v1/accounts/{customer}/quotes"))
            .json(&json!({ "product": "Pro", "seats": n + 1, "unit_price_cents": 100, "currency": "EUR" }))
            .await
            .json();
            created_id(&made, "quote_id");
            let made: Value = api
                .server
                .post_as(owner, &format!("/v1/accounts/{customer}/invitations"))
                .json(&json!({ "email": format!("i{n}@customer.example"), "role": "regular" }))
                .await
                .json();
            created_id(&made, "invitation_id");
            last = made["position"].as_u64().unwrap();
        }
        let at = format!("position={last}");
        let lists = [
            (
                owner,
                format!("/v1/accounts/{customer}/licenses?{at}"),
                "licenses",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/servers?{at}"),
                "servers",
            ),
            (
                partner,
                format!("/v1/accounts/{customer}/servers?{at}"),
                "servers",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/tickets?{at}"),
                "tickets",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/quotes?{at}"),
                "quotes",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/invitations?{at}"),
                "invitations",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/outbox?{at}"),
                "emails",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/sessions?{at}"),
                "sessions",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/activity?{at}"),
                "entries",
            ),
            (owner, format!("/v1/activity?{at}"), "entries"),
            // As of a moment: from the log, in creation order.
            (
                owner,
                format!("/v1/accounts/{customer}/users?as_of={last}"),
                "users",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/licenses?as_of={last}"),
                "licenses",
            ),
            (
                owner,
                format!("/v1/accounts/{customer}/servers?as_of={last}"),
                "servers",
            ),
        ];
        for (token, path, field) in &lists {
            pages_add_up(&api, token, path, field).await;
        }

        // Not an account's: the partner kit and the checkpoints.
        for n in 0..3 {
            let published = api
            .server
            .post_as(&w.root, "/v1/partner-kit")
            .json(&json!({ "title": format!("Item {n}"), "description": "d", "url": "https://example.com/x", "category": "brochures" }))
            .await;
            assert_eq!(published.status_code(), 201, "{}", published.text());
            last = published.json::<Value>()["position"].as_u64().unwrap();
        }
        pages_add_up(
            &api,
            partner,
            &format!("/v1/partner-kit?position={last}"),
            "items",
        )
        .await;
        let signer = portal_ledger::integrity::checkpoint::CheckpointSigner::generate().unwrap();
        for _ in 0..3 {
            last = portal_ledger::integrity::checkpoint::append_checkpoint(
                &t.backend.merkle_tree(),
                &signer,
            )
            .await
            .unwrap()
            .position;
        }
        let checkpoints = pages_add_up(
            &api,
            partner,
            &format!("/v1/checkpoints?position={last}"),
            "checkpoints",
        )
        .await;
        assert_eq!(checkpoints.len(), 3);
    }
);

on_both_backends!(
    a_filter_applies_before_the_page_is_cut,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let customer = &w.customer;
        let owner = &w.customer_owner.token;
        let mut users = Vec::new();
        for n in 0..4 {
            users.push(
                member(
                    &api,
                    owner,
                    customer,
                    &format!("u{n}@customer.example"),
                    "regular",
                )
                .await
                .id,
            );
        }
        let license: Value = api
            .server
            .post_as(
                &w.partner_admin.token,
                &format!("/v1/accounts/{customer}/licenses"),
            )
            .json(&json!({ "product": "Pro", "seats": 3 }))
            .await
            .json();
        let license = created_id(&license, "license_id");
        // The first and the last users created hold a seat: with a page of
        // one, each holder is a page of its own, however many users lie
        // between them.
        let assigned: Value = api
            .server
            .post_as(owner, &format!("/v1/licenses/{license}/assignments"))
            .json(&json!({ "user_ids": [users[0], users[3]] }))
            .await
            .json();
        let at = assigned["position"].as_u64().unwrap();
        for path in [
            format!("/v1/accounts/{customer}/users?license={license}&position={at}"),
            format!("/v1/accounts/{customer}/users?license={license}&as_of={at}"),
        ] {
            let (holders, pages) = walk(&api, owner, &path, "users", 1).await;
            assert_eq!(
                ids(&holders, "user_id"),
                vec![users[0].clone(), users[3].clone()],
                "{path}"
            );
            assert_eq!(pages, 2, "{path}");
        }
    }
);

on_both_backends!(
    writes_between_pages_neither_repeat_nor_skip_a_row,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let customer = &w.customer;
        let owner = &w.customer_owner.token;
        let mut servers = Vec::new();
        for n in 0..4 {
            let made: Value = api
                .server
                .post_as(owner, &format!("/v1/accounts/{customer}/servers"))
                .json(&json!({ "name": format!("Wall {n}") }))
                .await
                .json();
            servers.push((
                created_id(&made, "server_id"),
                made["position"].as_u64().unwrap(),
            ));
        }
        let path = format!("/v1/accounts/{customer}/servers");
        let first: Value = api
            .server
            .get_as(owner, &format!("{path}?limit=2&position={}", servers[3].1))
            .await
            .json();
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        // Between the pages: the first server (already shown) is renamed to
        // sort last by name, the fourth (not yet shown) to sort first, and a
        // fifth is registered.
        for (server, name) in [(&servers[0].0, "Zulu"), (&servers[3].0, "Alpha")] {
            let renamed = api
                .server
                .patch_as(owner, &format!("/v1/servers/{server}"))
                .json(&json!({ "name": name }))
                .await;
            assert_eq!(renamed.status_code(), 200, "{}", renamed.text());
        }
        let fifth: Value = api
            .server
            .post_as(owner, &format!("/v1/accounts/{customer}/servers"))
            .json(&json!({ "name": "Wall 4" }))
            .await
            .json();
        let fifth_id = created_id(&fifth, "server_id");
        let rest: Value = api
            .server
            .get_as(
                owner,
                &format!(
                    "{path}?limit=10&cursor={cursor}&position={}",
                    fifth["position"]
                ),
            )
            .await
            .json();
        let mut seen = ids(first["servers"].as_array().unwrap(), "server_id");
        seen.extend(ids(rest["servers"].as_array().unwrap(), "server_id"));
        let mut expected: Vec<String> = servers.iter().map(|(id, _)| id.clone()).collect();
        expected.push(fifth_id);
        assert_eq!(seen, expected, "every server once, in registration order");
    }
);

on_both_backends!(
    bad_pages_are_refused_precisely,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let customer = &w.customer;
        let owner = &w.customer_owner.token;
        for n in 0..2 {
            member(
                &api,
                owner,
                customer,
                &format!("u{n}@customer.example"),
                "regular",
            )
            .await;
        }
        let users = format!("/v1/accounts/{customer}/users");
        let first: Value = api
            .server
            .get_as(owner, &format!("{users}?limit=1"))
            .await
            .json();
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        let activity: Value = api
            .server
            .get_as(owner, &format!("/v1/accounts/{customer}/activity?limit=1"))
            .await
            .json();
        let activity_cursor = activity["next_cursor"].as_str().unwrap().to_owned();
        let refused = [
        (format!("{users}?limit=0"), "invalid_limit"),
        (format!("{users}?limit=501"), "invalid_limit"),
        (format!("{users}?cursor=not-a-cursor"), "invalid_cursor"),
        (format!("{users}?cursor=e30"), "invalid_cursor"),
        // Another list, another account, another filter, another moment.
        (format!("/v1/accounts/{customer}/servers?cursor={cursor}"), "invalid_cursor"),
        (format!("/v1/accounts/{}/users?cursor={cursor}", w.partner), "invalid_cursor"),
        (format!("{users}?as_of=1&cursor={cursor}"), "invalid_cursor"),
        (format!("{users}?license=00000000-0000-0000-0000-000000000001&cursor={cursor}"), "invalid_cursor"),
        // The activity log's cursors are bound to their filters too.
        (format!("/v1/accounts/{customer}/activity?cursor={activity_cursor}&action_types=Delete%20User"), "invalid_cursor"),
        (format!("/v1/activity?cursor={activity_cursor}"), "invalid_cursor"),
        (format!("/v1/accounts/{customer}/activity?cursor={cursor}"), "invalid_cursor"),
    ];
        for (path, code) in refused {
            let response = api.server.get_as(owner, &path).expect_failure().await;
            assert_eq!(answer(&response), (400, code.to_owned()), "{path}");
        }
        // The same cursor with a different page size is fine.
        let second = api
            .server
            .get_as(owner, &format!("{users}?limit=5&cursor={cursor}"))
            .await;
        assert_eq!(second.status_code(), 200, "{}", second.text());
        assert_eq!(second.json::<Value>()["users"].as_array().unwrap().len(), 3);
    }
);
