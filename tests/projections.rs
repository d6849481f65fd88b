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

const TABLES: [&str; 9] = [
    "proj_accounts",
    "proj_users",
    "proj_activity",
    "proj_invitations",
    "proj_licenses",
    "proj_license_assignments",
    "proj_sessions",
    "proj_outbox",
    "proj_trusted_locations",
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
        // Partner staff assigned to customers, then to one of them.
        let partner = AccountId(Uuid::now_v7());
        ledger
            .create_account(&system, partner, AccountKind::Partner, "Reseller", None)
            .await
            .unwrap();
        let customers = [AccountId(Uuid::now_v7()), AccountId(Uuid::now_v7())];
        for (i, customer) in customers.iter().enumerate() {
            ledger
                .create_account(
                    &system,
                    *customer,
                    AccountKind::Organization,
                    &format!("Customer {i}"),
                    Some(partner),
                )
                .await
                .unwrap();
        }
        let staff = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("staff@reseller.example").unwrap(),
            name: "Staff".into(),
            role: Role::User,
            origin: Origin::Direct,
            invitation: None,
        };
        let handle = portal_ledger::domain::username::Username::parse("Staff.One").unwrap();
        ledger
            .create_user_with_username(&system, partner, &staff, Some(&handle))
            .await
            .unwrap();
        ledger
            .assign_customers(&system, staff.user_id, &[customers[1], customers[0]])
            .await
            .unwrap();
        ledger
            .assign_customers(&system, staff.user_id, &[customers[1]])
            .await
            .unwrap();
        // A second license for users[2]: the set grows one by one.
        let second = portal_ledger::domain::ids::LicenseId(Uuid::now_v7());
        ledger
            .create_license(&admin, org, second, "Plus", 2)
            .await
            .unwrap();
        ledger
            .assign_license(&admin, second, &[users[2]])
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
        assert_eq!(accounts.len(), 4);
        let acme = accounts
            .iter()
            .find(|a| a["account_id"] == org.to_string())
            .unwrap();
        assert_eq!(acme["name"], "Acme");
        assert_eq!(acme["admin_count"], 1);
        assert_eq!(acme["primary_admin_id"], users[0].to_string());

        let user_rows = rows(&live[1]);
        assert_eq!(user_rows.len(), 5);
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
        // Licenses held (sorted ids), none after a release or a deletion;
        // assigned customers (the last assignment, sorted).
        let mut held = vec![license.to_string(), second.to_string()];
        held.sort();
        assert_eq!(by_id(users[2])["licenses"], serde_json::json!(held));
        assert_eq!(by_id(users[3])["licenses"], serde_json::json!([]));
        assert_eq!(by_id(users[1])["licenses"], serde_json::json!([]));
        assert_eq!(by_id(users[0])["assigned_customers"], serde_json::json!([]));
        assert_eq!(by_id(staff.user_id)["username"], "staff.one");
        assert_eq!(by_id(users[0])["username"], Value::Null);
        assert_eq!(
            by_id(staff.user_id)["assigned_customers"],
            serde_json::json!([customers[1].to_string()])
        );

        // One activity row per command: 1 account + 4 users + 3 changes
        // + 3 license commands + 3 accounts, 1 user and 2 assignments of
        // partner staff + 2 commands on the second license.
        let activity = rows(&live[2]);
        assert_eq!(activity.len(), 19);
        let licenses = rows(&live[4]);
        let pro = licenses
            .iter()
            .find(|l| l["license_id"] == license.to_string())
            .unwrap();
        assert_eq!(pro["seats"], 3);
        // users[1] was deleted (seat released), users[3] released: one holder left.
        assert_eq!(pro["assigned_count"], 1);
        let holders: Vec<Value> = rows(&live[5])
            .into_iter()
            .filter(|h| h["license_id"] == license.to_string())
            .collect();
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
