//! Projections on both backends: built live while commands run, readable
//! with SQL, and identical after a rebuild from the log.

mod support;

use std::time::Duration;

use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::backend::{open_projections, Migrations};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, UserId};
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin};
use portal_ledger::projection::runner::Projections;
use serde_json::Value;
use uuid::Uuid;

const TABLES: [&str; 12] = [
    "proj_accounts",
    "proj_users",
    "proj_activity",
    "proj_invitations",
    "proj_licenses",
    "proj_license_assignments",
    "proj_sessions",
    "proj_outbox",
    "proj_trusted_locations",
    "proj_quotes",
    "proj_partner_kit",
    "proj_servers",
];

async fn dump_all(projections: &Projections) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for table in TABLES {
        out.push(projections.target().dump(table).await.unwrap());
    }
    out
}

fn rows(dump: &[String]) -> Vec<Value> {
    dump.iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

on_both_backends!(
    live_projections_equal_rebuilt_ones,
    |t: support::TestStore| async move {
        let target = open_projections(&t.location, Migrations::Apply)
            .await
            .unwrap();
        let projections = Projections::new(t.store.clone(), t.personal.clone(), target);
        projections.start();

        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let system = CommandContext::system();
        let org = AccountId(Uuid::now_v7());
        ledger
            .create_account(&system, org, AccountKind::Organization, "Acme", None)
            .await
            .unwrap();
        let mut users = Vec::new();
        for (i, role) in [Role::Admin, Role::Admin, Role::Regular, Role::ReadOnly]
            .into_iter()
            .enumerate()
        {
            let new = NewUser {
                user_id: UserId(Uuid::now_v7()),
                email: Email::parse(&format!("person{i}@acme.example")).unwrap(),
                name: format!("Person {i}"),
                role,
                origin: Origin::Direct,
                invitation: None,
            };
            ledger.create_user(&system, org, &new).await.unwrap();
            users.push(new.user_id);
        }
        let admin = CommandContext::as_user(users[0]);
        ledger
            .change_role(&admin, users[2], Role::Support)
            .await
            .unwrap();
        ledger
            .update_profile(
                &admin,
                users[3],
                Some("Renamed Person"),
                Some(&Email::parse("renamed@acme.example").unwrap()),
            )
            .await
            .unwrap();
        let license = portal_ledger::domain::ids::LicenseId(Uuid::now_v7());
        ledger
            .create_license(&admin, org, license, "Pro", 3)
            .await
            .unwrap();
        ledger
            .assign_license(&admin, license, &[users[1], users[2], users[3]])
            .await
            .unwrap();
        ledger
            .release_license(&admin, license, &[users[3]])
            .await
            .unwrap();
        let last = ledger.delete_user(&admin, users[1]).await.unwrap();

        // Read your own writes: wait for the position the last command returned.
        assert!(
            projections
                .wait_for(last.last_position(), Duration::from_secs(10))
                .await
        );
        let live = dump_all(&projections).await;

        let accounts = rows(&live[0]);
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0]["name"], "Acme");
        assert_eq!(accounts[0]["admin_count"], 1);
        assert_eq!(accounts[0]["primary_admin_id"], users[0].to_string());

        let user_rows = rows(&live[1]);
        assert_eq!(user_rows.len(), 4);
        let by_id = |id: UserId| {
            user_rows
                .iter()
                .find(|r| r["user_id"] == id.to_string())
                .unwrap()
                .clone()
        };
        assert_eq!(by_id(users[2])["role"], "support");
        assert_eq!(by_id(users[3])["email"], "renamed@acme.example");
        assert_eq!(by_id(users[3])["name"], "Renamed Person");
        assert_eq!(by_id(users[1])["status"], "deleted");
        assert!(!by_id(users[1])["deleted_at"].is_null());

        // One activity row per command: 1 account + 4 users + 3 changes
        // + 3 license commands.
        let activity = rows(&live[2]);
        assert_eq!(activity.len(), 11);
        let licenses = rows(&live[4]);
        assert_eq!(licenses[0]["seats"], 3);
        // users[1] was deleted (seat released), users[3] released: one holder left.
        assert_eq!(licenses[0]["assigned_count"], 1);
        let holders = rows(&live[5]);
        assert_eq!(holders.len(), 1);
        assert_eq!(holders[0]["user_id"], users[2].to_string());
        let deletion = activity
            .iter()
            .find(|r| r["action_type"] == "Delete User")
            .unwrap();
        assert_eq!(deletion["actor_email"], "person0@acme.example");
        assert!(deletion["description"]
            .as_str()
            .unwrap()
            .contains("person1@acme.example"));

        // Rebuild everything from the log: the same rows.
        projections.stop();
        projections.rebuild(&[], &mut |_, _| {}).await.unwrap();
        assert_eq!(dump_all(&projections).await, live);
        // A named rebuild too, and an unknown name is refused.
        projections
            .rebuild(&["users".to_owned()], &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(dump_all(&projections).await, live);
        assert!(projections
            .rebuild(&["nope".to_owned()], &mut |_, _| {})
            .await
            .is_err());

        // A fresh runner resumes from the checkpoints without re-applying.
        let again = Projections::new(
            t.store.clone(),
            t.personal.clone(),
            projections.target().clone(),
        );
        again.start();
        assert!(
            again
                .wait_for(last.last_position(), Duration::from_secs(10))
                .await
        );
        assert_eq!(dump_all(&again).await, live);
    }
);

on_both_backends!(
    quotes_partner_kit_and_server_licenses_rebuild_the_same,
    |t: support::TestStore| async move {
        use portal_ledger::app::partner_kit::NewKitItem;
        use portal_ledger::domain::ids::{KitItemId, LicenseId, QuoteId, ServerId};
        use portal_ledger::domain::partner_kit::{
            Category, Description, ItemChange, Material, Title,
        };
        use portal_ledger::domain::quote::{
            Currency, Note, Product, Seats, Terms, TermsChange, UnitPrice,
        };

        let target = open_projections(&t.location, Migrations::Apply)
            .await
            .unwrap();
        let projections = Projections::new(t.store.clone(), t.personal.clone(), target);
        projections.start();
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let system = CommandContext::system();
        let (platform, partner, org) = (
            AccountId(Uuid::now_v7()),
            AccountId(Uuid::now_v7()),
            AccountId(Uuid::now_v7()),
        );
        ledger
            .create_account(&system, platform, AccountKind::Platform, "Platform", None)
            .await
            .unwrap();
        ledger
            .create_account(
                &system,
                partner,
                AccountKind::Partner,
                "Reseller",
                Some(platform),
            )
            .await
            .unwrap();
        ledger
            .create_account(
                &system,
                org,
                AccountKind::Organization,
                "Acme",
                Some(partner),
            )
            .await
            .unwrap();
        let today = chrono::Utc::now().date_naive();
        let terms = || Terms {
            product: Product::parse("Pro").unwrap(),
            seats: Seats::parse(4).unwrap(),
            unit_price: UnitPrice::parse(999).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            valid_until: None,
            note: None,
        };
        let (sent, declined) = (QuoteId(Uuid::now_v7()), QuoteId(Uuid::now_v7()));
        for quote in [sent, declined] {
            ledger
                .create_quote(&system, org, quote, terms(), today)
                .await
                .unwrap();
        }
        ledger
            .update_quote(
                &system,
                sent,
                TermsChange {
                    seats: Some(Seats::parse(6).unwrap()),
                    note: Some(Note::parse("six now").unwrap()),
                    ..TermsChange::default()
                },
                today,
            )
            .await
            .unwrap();
        ledger.send_quote(&system, sent, today).await.unwrap();
        ledger.send_quote(&system, declined, today).await.unwrap();
        ledger
            .decline_quote(&system, declined, Some(Note::parse("no").unwrap()))
            .await
            .unwrap();
        let (kept, gone) = (KitItemId(Uuid::now_v7()), KitItemId(Uuid::now_v7()));
        for item in [kept, gone] {
            ledger
                .publish_kit_item(
                    &system,
                    Some(platform),
                    item,
                    NewKitItem {
                        title: Title::parse("Logos").unwrap(),
                        description: Description::parse("All sizes").unwrap(),
                        material: Material::parse(Some("https://cdn.example/l.zip"), None).unwrap(),
                        category: Category::parse("Logos").unwrap(),
                    },
                )
                .await
                .unwrap();
        }
        ledger
            .update_kit_item(
                &system,
                kept,
                ItemChange {
                    material: Some(Material::parse(None, Some("inline")).unwrap()),
                    ..ItemChange::default()
                },
            )
            .await
            .unwrap();
        ledger.withdraw_kit_item(&system, gone).await.unwrap();
        let license = LicenseId(Uuid::now_v7());
        ledger
            .create_license(&system, org, license, "Pro", 3)
            .await
            .unwrap();
        let server = ServerId(Uuid::now_v7());
        ledger
            .register_server(&system, org, server, "wall", None, true)
            .await
            .unwrap();
        let last = ledger
            .change_server_license(&system, server, Some(license))
            .await
            .unwrap();
        assert!(
            projections
                .wait_for(last.last_position(), Duration::from_secs(10))
                .await
        );
        let live = dump_all(&projections).await;
        let quotes = rows(&live[9]);
        let quote = |id: QuoteId| {
            quotes
                .iter()
                .find(|r| r["quote_id"] == id.to_string())
                .unwrap()
                .clone()
        };
        assert_eq!(quote(sent)["status"], "sent");
        assert_eq!(quote(sent)["total_cents"], 6 * 999);
        assert_eq!(quote(sent)["note"], "six now");
        assert_eq!(quote(declined)["status"], "declined");
        assert_eq!(quote(declined)["decline_reason"], "no");
        let kit = rows(&live[10]);
        assert_eq!(kit.len(), 1);
        assert_eq!(kit[0]["item_id"], kept.to_string());
        assert_eq!(kit[0]["content"], "inline");
        assert_eq!(kit[0]["url"], Value::Null);
        assert_eq!(kit[0]["category"], "logos");
        let servers = rows(&live[11]);
        assert_eq!(servers[0]["license_id"], license.to_string());

        projections.stop();
        projections.rebuild(&[], &mut |_, _| {}).await.unwrap();
        assert_eq!(dump_all(&projections).await, live);
        projections
            .rebuild(
                &[
                    "quotes".to_owned(),
                    "partner_kit".to_owned(),
                    "servers".to_owned(),
                ],
                &mut |_, _| {},
            )
            .await
            .unwrap();
        assert_eq!(dump_all(&projections).await, live);
    }
);
