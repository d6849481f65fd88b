//! The tenancy views over HTTP on both backends: a partner's customers
//! with counts, its customers' servers in one list (grants respected), an
//! account's staff; partners only by invitation; decommissioned servers.

use crate::support;

use serde_json::{json, Value};
use support::http::{answer, AsCaller, TestApi};
use support::world::{member, World};

fn ids(page: &Value, field: &str, key: &str) -> Vec<String> {
    page[field]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|r| r[key].as_str().unwrap().to_owned())
        .collect()
}

async fn register(
    api: &TestApi,
    token: &str,
    account: &str,
    name: &str,
    granted: bool,
) -> (String, u64) {
    let made = api
        .server
        .post_as(token, &format!("/v1/accounts/{account}/servers"))
        .json(&json!({ "name": name, "partner_access": granted }))
        .await;
    assert_eq!(made.status_code(), 201, "{}", made.text());
    let made: Value = made.json();
    (
        made["server_id"].as_str().unwrap().to_owned(),
        made["position"].as_u64().unwrap(),
    )
}

on_both_backends!(
    a_partner_sees_its_customers_and_their_servers,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let partner = &w.partner;
        let boss = &w.partner_admin.token;
        // Two more customers; the first has a license and two servers, one of
        // them not granted to the partner.
        let second = api
            .create_account(boss, "organization", "Second GmbH")
            .await;
        let third = api.create_account(boss, "organization", "Third AG").await;
        let license = api
            .server
            .post_as(boss, &format!("/v1/accounts/{}/licenses", w.customer))
            .json(&json!({ "product": "Pro", "seats": 5 }))
            .await;
        assert_eq!(license.status_code(), 201, "{}", license.text());
        let owner = &w.customer_owner.token;
        let (granted, _) = register(&api, owner, &w.customer, "Lobby wall", true).await;
        let (ungranted, _) = register(&api, owner, &w.customer, "Board room", false).await;
        let (third_server, last) = register(&api, boss, &third, "Third wall", true).await;

        // Customers, with counts; paged like every list.
        let customers = format!("/v1/accounts/{partner}/customers?position={last}");
        let page: Value = api.server.get_as(boss, &customers).await.json();
        assert_eq!(
            ids(&page, "customers", "account_id"),
            vec![w.customer.clone(), second.clone(), third.clone()]
        );
        let counts = &page["customers"][0]["counts"];
        // The partner's staff count the servers they may read.
        assert_eq!(counts, &json!({ "users": 2, "servers": 1, "licenses": 1 }));
        let as_root: Value = api.server.get_as(&w.root, &customers).await.json();
        assert_eq!(as_root["customers"][0]["counts"]["servers"], 2);
        let first: Value = api
            .server
            .get_as(boss, &format!("{customers}&limit=2"))
            .await
            .json();
        let cursor = first["next_cursor"].as_str().expect("a second page");
        let rest: Value = api
            .server
            .get_as(boss, &format!("{customers}&limit=2&cursor={cursor}"))
            .await
            .json();
        assert_eq!(ids(&rest, "customers", "account_id"), vec![third.clone()]);
        assert!(rest.get("next_cursor").is_none());
        // A staff member assigned to one customer sees that one.
        let assigned = member(&api, boss, partner, "assigned@reseller.example", "user").await;
        let put = api
            .server
            .put_as(boss, &format!("/v1/users/{}/customers", assigned.id))
            .json(&json!({ "account_ids": [second] }))
            .await;
        assert_eq!(put.status_code(), 200, "{}", put.text());
        let at = put.json::<Value>()["position"].as_u64().unwrap();
        let theirs: Value = api
            .server
            .get_as(
                &assigned.token,
                &format!("/v1/accounts/{partner}/customers?position={at}"),
            )
            .await
            .json();
        assert_eq!(
            ids(&theirs, "customers", "account_id"),
            vec![second.clone()]
        );
        // Another tenant does not find them; a customer has none.
        let other = api
            .server
            .get_as(&w.other_admin.token, &customers)
            .expect_failure()
            .await;
        assert_eq!(answer(&other).0, 404);
        let none: Value = api
            .server
            .get_as(owner, &format!("/v1/accounts/{}/customers", w.customer))
            .await
            .json();
        assert_eq!(none["customers"], json!([]));

        // The partner's servers view: its customers' servers grouped by
        // customer; the ungranted one only for the platform.
        let servers = format!("/v1/accounts/{partner}/servers?position={last}");
        let page: Value = api.server.get_as(boss, &servers).await.json();
        let seen = ids(&page, "servers", "server_id");
        assert!(
            seen.contains(&granted) && seen.contains(&third_server),
            "{page}"
        );
        assert!(
            !seen.contains(&ungranted),
            "an ungranted server is listed: {page}"
        );
        let accounts: Vec<String> = ids(&page, "servers", "account_id");
        let mut grouped = accounts.clone();
        grouped.sort();
        assert_eq!(accounts, grouped, "grouped by account");
        let all: Value = api.server.get_as(&w.root, &servers).await.json();
        assert!(ids(&all, "servers", "server_id").contains(&ungranted));
        let theirs: Value = api
            .server
            .get_as(
                &assigned.token,
                &format!("/v1/accounts/{partner}/servers?position={last}"),
            )
            .await
            .json();
        assert_eq!(
            ids(&theirs, "servers", "server_id"),
            Vec::<String>::new(),
            "the second customer has none"
        );
        let other = api
            .server
            .get_as(&w.other_admin.token, &servers)
            .expect_failure()
            .await;
        assert_eq!(answer(&other).0, 404);
        let (walked, _) = {
            let first: Value = api
                .server
                .get_as(&w.root, &format!("{servers}&limit=1"))
                .await
                .json();
            let cursor = first["next_cursor"].as_str().expect("more").to_owned();
            let second: Value = api
                .server
                .get_as(&w.root, &format!("{servers}&limit=5&cursor={cursor}"))
                .await
                .json();
            let mut walked = ids(&first, "servers", "server_id");
            walked.extend(ids(&second, "servers", "server_id"));
            (walked, ())
        };
        assert_eq!(walked, ids(&all, "servers", "server_id"));
    }
);

on_both_backends!(
    an_accounts_staff_are_its_owner_and_admins,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let page: Value = api
            .server
            .get_as(
                &w.partner_deputy.token,
                &format!("/v1/accounts/{}/staff", w.partner),
            )
            .await
            .json();
        let staff = page["staff"].as_array().unwrap();
        let listed: Vec<(&str, bool)> = staff
            .iter()
            .map(|s| {
                (
                    s["user_id"].as_str().unwrap(),
                    s["owner"].as_bool().unwrap(),
                )
            })
            .collect();
        // The admin who accepted the platform's invitation owns the partner;
        // the read-only auditor is not staff.
        assert_eq!(
            listed,
            vec![
                (w.partner_admin.id.as_str(), true),
                (w.partner_deputy.id.as_str(), false)
            ]
        );
        let customer: Value = api
            .server
            .get_as(
                &w.partner_admin.token,
                &format!("/v1/accounts/{}/staff", w.customer),
            )
            .await
            .json();
        assert_eq!(
            ids(&customer, "staff", "user_id"),
            vec![w.customer_owner.id.clone(), w.customer_admin.id.clone()]
        );
        assert_eq!(customer["staff"][0]["owner"], true);
        let hidden = api
            .server
            .get_as(
                &w.other_admin.token,
                &format!("/v1/accounts/{}/staff", w.customer),
            )
            .expect_failure()
            .await;
        assert_eq!(answer(&hidden).0, 404);
    }
);

on_both_backends!(
    partners_come_only_from_the_platforms_invitation,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let root = api.root().await;
        let head = api.ledger().store().head().await.unwrap().position;
        let refused = api
            .server
            .post_as(&root, "/v1/accounts")
            .json(&json!({ "kind": "partner", "name": "Direct Reseller" }))
            .expect_failure()
            .await;
        assert_eq!(
            answer(&refused),
            (422, "partner_needs_invitation".to_owned())
        );
        assert_eq!(
            api.ledger().store().head().await.unwrap().position,
            head,
            "nothing appended"
        );
        // Organizations keep both ways.
        api.create_account(&root, "organization", "Direct Customer")
            .await;
        let (partner, admin, token) = api
            .invite_partner(
                &root,
                "Invited Reseller",
                "boss@invited.example",
                "invited password",
            )
            .await;
        let me: Value = api.server.get_as(&token, "/v1/me").await.json();
        assert_eq!(me["account_id"], partner.as_str());
        assert_eq!(me["user_id"], admin.as_str());
        let account: Value = api
            .server
            .get_as(&token, &format!("/v1/accounts/{partner}"))
            .await
            .json();
        assert_eq!(account["kind"], "partner");
    }
);

on_both_backends!(
    a_decommissioned_server_keeps_its_history_and_loses_its_license,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let owner = &w.customer_owner.token;
        let license: Value = api
            .server
            .post_as(
                &w.partner_admin.token,
                &format!("/v1/accounts/{}/licenses", w.customer),
            )
            .json(&json!({ "product": "Pro", "seats": 5 }))
            .await
            .json();
        let license = license["license_id"].as_str().unwrap().to_owned();
        let (server, _) = register(&api, owner, &w.customer, "Lobby wall", true).await;
        let put = api
            .server
            .put_as(owner, &format!("/v1/servers/{server}/license"))
            .json(&json!({ "license_id": license }))
            .await;
        assert_eq!(put.status_code(), 200, "{}", put.text());
        let gone = api
            .server
            .delete_as(owner, &format!("/v1/servers/{server}"))
            .await;
        assert_eq!(gone.status_code(), 200, "{}", gone.text());
        let at = gone.json::<Value>()["position"].as_u64().unwrap();
        // Listed with its status, without a license.
        let page: Value = api
            .server
            .get_as(
                owner,
                &format!("/v1/accounts/{}/servers?position={at}", w.customer),
            )
            .await
            .json();
        let row = &page["servers"][0];
        assert_eq!(row["server_id"], server.as_str());
        assert_eq!(row["status"], "decommissioned");
        assert!(row["decommissioned_at"].is_string(), "{row}");
        assert_eq!(row["license_id"], Value::Null);
        // Nothing more happens to it.
        for (method, path, body) in [
            (
                "patch",
                format!("/v1/servers/{server}"),
                json!({ "name": "Again" }),
            ),
            (
                "post",
                format!("/v1/servers/{server}/actions"),
                json!({ "action": "reboot" }),
            ),
            ("delete", format!("/v1/servers/{server}"), json!(null)),
        ] {
            let request = match method {
                "patch" => api.server.patch_as(owner, &path).json(&body),
                "post" => api.server.post_as(owner, &path).json(&body),
                _ => api.server.delete_as(owner, &path),
            };
            let refused = request.expect_failure().await;
            assert_eq!(
                answer(&refused),
                (409, "server_decommissioned".to_owned()),
                "{method} {path}"
            );
        }
        // Its history is kept, ending with the decommissioning; the license's
        // records the detachment.
        let history: Value = api
            .server
            .get_as(owner, &format!("/v1/history/server/{server}"))
            .await
            .json();
        let last = history["entries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["action_type"], "Decommission Server", "{last}");
        assert_eq!(last["after"]["decommissioned"], true, "{last}");
        let history: Value = api
            .server
            .get_as(owner, &format!("/v1/history/license/{license}"))
            .await
            .json();
        let last = history["entries"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["after"]["servers"], json!([]), "{last}");
    }
);
