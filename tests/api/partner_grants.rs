//! Time-bound partner access over HTTP, on both backends: a customer's
//! grant to its partner may carry an end; after it the partner is refused
//! exactly as without a grant (commands, reads, lists, history, the
//! activity log, who-could); the customer's admins are reminded 7 days and
//! 1 day before; extending, revoking and the recorded expiry are events.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use portal_ledger::projection::read_models::ReadModels;
use serde_json::{json, Value};

use crate::support;
use support::http::{answer, AsCaller, TestApi};
use support::world::World;

async fn head(api: &TestApi) -> u64 {
    api.ledger().store().head().await.unwrap().position
}

fn mails_with(api: &TestApi, subject: &str) -> Vec<String> {
    api.mail
        .sent()
        .into_iter()
        .filter(|m| m.subject.contains(subject))
        .map(|m| m.to.clone())
        .collect()
}

on_both_backends!(
    a_grant_with_an_end_is_reminded_extended_and_runs_out,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        let w = World::build(&api).await;
        let owner = &w.customer_owner.token;
        let boss = &w.partner_admin.token;
        let made: Value = api
            .server
            .post_as(owner, &format!("/v1/accounts/{}/servers", w.customer))
            .json(&json!({ "name": "Lobby wall" }))
            .await
            .json();
        let server = made["server_id"].as_str().unwrap().to_owned();
        let access = format!("/v1/servers/{server}/partner-access");

        // An end must lie ahead, and only a grant has one.
        let before = head(&api).await;
        for body in [
            json!({ "granted": true, "until": (Utc::now() - Duration::hours(1)).to_rfc3339() }),
            json!({ "granted": false, "until": (Utc::now() + Duration::days(3)).to_rfc3339() }),
        ] {
            let refused = api
                .server
                .put_as(owner, &access)
                .json(&body)
                .expect_failure()
                .await;
            assert_eq!(
                answer(&refused),
                (422, "invalid_grant_end".to_owned()),
                "{body}"
            );
        }
        let malformed = api
            .server
            .put_as(owner, &access)
            .json(&json!({ "granted": true, "until": "next tuesday" }))
            .expect_failure()
            .await;
        assert_eq!(malformed.status_code(), 400);
        assert_eq!(head(&api).await, before, "nothing appended");

        // Granted for 20 days, then extended to 30: two events.
        let end = Utc::now() + Duration::days(20);
        let granted = api
            .server
            .put_as(owner, &access)
            .json(&json!({ "granted": true, "until": end.to_rfc3339() }))
            .await;
        assert_eq!(granted.status_code(), 200, "{}", granted.text());
        let acted = api
            .server
            .post_as(boss, &format!("/v1/servers/{server}/actions"))
            .json(&json!({ "action": "control center opened" }))
            .await;
        assert_eq!(acted.status_code(), 200, "{}", acted.text());
        let end = Utc::now() + Duration::days(30);
        let extended = api
            .server
            .put_as(owner, &access)
            .json(&json!({ "granted": true, "until": end.to_rfc3339() }))
            .await;
        assert_eq!(extended.status_code(), 200, "{}", extended.text());
        let at = extended.json::<Value>()["position"].as_u64().unwrap();
        let history: Value = api
            .server
            .get_as(owner, &format!("/v1/history/server/{server}"))
            .await
            .json();
        let types: Vec<&str> = history["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap())
            .collect();
        assert!(
            types.ends_with(&[
                "server.partner_access_granted",
                "server.action_performed",
                "server.partner_access_extended"
            ]),
            "{types:?}"
        );
        let page: Value = api
            .server
            .get_as(
                boss,
                &format!("/v1/accounts/{}/servers?position={at}", w.customer),
            )
            .await
            .json();
        assert_eq!(
            page["servers"][0]["partner_access_state"], "granted",
            "{page}"
        );

        // Reminders: 7 days before the end, then 1 day before, each once, to
        // each of the customer's admins.
        let source = ReadModels(api.projections.target().clone());
        let sweep = |now| api.ledger().sweep_partner_grants(now, &source);
        let far = sweep(Utc::now()).await.unwrap();
        assert_eq!((far.reminded, far.expired), (0, 0), "not yet");
        let week = sweep(end - Duration::days(6)).await.unwrap();
        assert_eq!(week.reminded, 2);
        let mut to = mails_with(&api, "ends in 7 days");
        to.sort();
        assert_eq!(
            to,
            vec!["owner@customer.example", "second@customer.example"]
        );
        assert_eq!(
            sweep(end - Duration::days(5)).await.unwrap().reminded,
            0,
            "once"
        );
        assert_eq!(sweep(end - Duration::hours(20)).await.unwrap().reminded, 2);
        assert_eq!(mails_with(&api, "ends in 1 day").len(), 2);

        // An end a moment away: once it passes, the partner is refused as
        // without a grant — before anything records it.
        let soon = Utc::now() + Duration::seconds(2);
        let shortened = api
            .server
            .put_as(owner, &access)
            .json(&json!({ "granted": true, "until": soon.to_rfc3339() }))
            .await;
        assert_eq!(shortened.status_code(), 200, "{}", shortened.text());
        let at = shortened.json::<Value>()["position"].as_u64().unwrap();
        tokio::time::sleep(StdDuration::from_millis(2_500)).await;
        let refused = api
            .server
            .post_as(boss, &format!("/v1/servers/{server}/actions"))
            .json(&json!({ "action": "control center opened" }))
            .expect_failure()
            .await;
        assert_eq!(
            answer(&refused),
            (403, "partner_access_not_granted".to_owned())
        );
        let history = api
            .server
            .get_as(boss, &format!("/v1/history/server/{server}"))
            .expect_failure()
            .await;
        assert_eq!(
            answer(&history),
            (403, "partner_access_not_granted".to_owned())
        );
        let theirs: Value = api
            .server
            .get_as(
                boss,
                &format!("/v1/accounts/{}/servers?position={at}", w.customer),
            )
            .await
            .json();
        assert_eq!(
            theirs["servers"],
            json!([]),
            "left out of the partner's list"
        );
        let across: Value = api
            .server
            .get_as(
                boss,
                &format!("/v1/accounts/{}/servers?position={at}", w.partner),
            )
            .await
            .json();
        assert!(!across["servers"].to_string().contains(&server), "{across}");
        let log: Value = api
            .server
            .get_as(
                boss,
                &format!("/v1/accounts/{}/activity?position={at}", w.customer),
            )
            .await
            .json();
        assert!(
            !log["entries"].to_string().contains(&server),
            "the log leaves it out"
        );
        let ours: Value = api
            .server
            .get_as(
                owner,
                &format!("/v1/accounts/{}/servers?position={at}", w.customer),
            )
            .await
            .json();
        assert_eq!(
            ours["servers"][0]["partner_access_state"], "expired",
            "{ours}"
        );
        // As of now (past the end), before anything recorded it; as of
        // the moment the end was set, the grant stood.
        let moment = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        for (as_of, state) in [(moment, "expired"), (at.to_string(), "granted")] {
            let then: Value = api
                .server
                .get_as(
                    owner,
                    &format!("/v1/accounts/{}/servers?as_of={as_of}", w.customer),
                )
                .await
                .json();
            assert_eq!(then["servers"][0]["partner_access_state"], state, "{then}");
        }
        let who: Value = api
            .server
            .get_as(
                owner,
                &format!("/v1/accounts/{}/access?server_id={server}", w.customer),
            )
            .await
            .json();
        let partner_boss = who["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == w.partner_admin.id.as_str())
            .expect("the partner's admin is listed")
            .clone();
        assert!(
            !partner_boss["actions"]
                .to_string()
                .contains("server_action"),
            "{partner_boss}"
        );
        assert!(
            partner_boss["because"].to_string().contains("expired at"),
            "{partner_boss}"
        );

        // The sweep records the expiry once; the history shows it.
        let swept = sweep(Utc::now()).await.unwrap();
        assert_eq!(swept.expired, 1);
        assert_eq!(sweep(Utc::now()).await.unwrap().expired, 0);
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
        assert_eq!(
            last["event_type"], "server.partner_access_expired",
            "{last}"
        );
        assert_eq!(last["after"]["partner_access_state"], "expired", "{last}");

        // Revoking is an event too; granting again starts a new grant.
        let again = api
            .server
            .put_as(owner, &access)
            .json(&json!({ "granted": true }))
            .await;
        assert_eq!(again.status_code(), 200, "{}", again.text());
        let revoked = api
            .server
            .put_as(owner, &access)
            .json(&json!({ "granted": false }))
            .await;
        assert_eq!(revoked.status_code(), 200, "{}", revoked.text());
    }
);
