//! The retention sweep on both backends, with a clock the test controls:
//! deleted users are purged once their retention period is over (by the
//! `system` actor, caused by their deletion), not before, not after a
//! restore, and only once; the log still verifies and the read models show
//! them erased. Also `portal-ledger purge` as an operator runs it.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::users::{CreateUser, DeleteUser, RestoreUser};
use std::process::Command;

use chrono::Duration;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, UserId};
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin, Status};
use portal_ledger::event::RecordedEvent;
use portal_ledger::store::ReadFilter;
use serde_json::Value;
use uuid::Uuid;

async fn add_user(ledger: &Ledger, by: &CommandContext, account: AccountId, email: &str) -> UserId {
    let new = NewUser {
        user_id: UserId(Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        name: format!("Name of {email}"),
        role: Role::Regular,
        origin: Origin::Direct,
        invitation: None,
    };
    ledger
        .run(
            by,
            CreateUser {
                account_id: account,
                user: new.clone(),
                username: None,
            },
        )
        .await
        .unwrap();
    new.user_id
}

/// An organization with an admin; returns the admin's context.
async fn organization(ledger: &Ledger) -> (AccountId, CommandContext) {
    let system = CommandContext::system();
    let org = AccountId(Uuid::now_v7());
    ledger
        .run(
            &system,
            CreateAccount {
                account_id: org,
                kind: AccountKind::Organization,
                name: String::from("Acme"),
                parent: None,
            },
        )
        .await
        .unwrap();
    let new = NewUser {
        user_id: UserId(Uuid::now_v7()),
        email: Email::parse("admin@acme.example").unwrap(),
        name: "Acme Admin".into(),
        role: Role::Admin,
        origin: Origin::Direct,
        invitation: None,
    };
    ledger
        .run(
            &system,
            CreateUser {
                account_id: org,
                user: new.clone(),
                username: None,
            },
        )
        .await
        .unwrap();
    (org, CommandContext::as_user(new.user_id))
}

async fn events_of(t: &support::TestStore, event_type: &str) -> Vec<RecordedEvent> {
    t.store
        .read_all(1, 100_000, &ReadFilter::all())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type.as_str() == event_type)
        .collect()
}

fn metadata(event: &RecordedEvent) -> Value {
    event.metadata.to_value()
}

on_both_backends!(
    the_sweep_purges_exactly_the_users_whose_retention_is_over,
    |t: support::TestStore| async move {
        let projections = t.live_projections().await;
        let ledger =
            Ledger::new(t.store.clone(), t.personal.clone()).with_retention(Duration::days(30));
        let (org, admin) = organization(&ledger).await;
        let gone = add_user(&ledger, &admin, org, "gone.soon@acme.example").await;
        let back = add_user(&ledger, &admin, org, "came.back@acme.example").await;
        let stays = add_user(&ledger, &admin, org, "never.deleted@acme.example").await;

        let admin = CommandContext {
            correlation_id: Some(Uuid::now_v7()),
            ..admin
        };
        ledger
            .run(&admin, DeleteUser { user_id: gone })
            .await
            .unwrap();
        ledger
            .run(&admin, DeleteUser { user_id: back })
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(back).await.unwrap().status else {
            panic!("deleted")
        };
        ledger
            .run(
                &admin,
                RestoreUser {
                    user_id: back,
                    now: at + Duration::days(1),
                },
            )
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(gone).await.unwrap().status else {
            panic!("deleted")
        };

        // Deleted 29 days ago: still restorable, not purged.
        let head = t.store.head().await.unwrap().position;
        assert_eq!(ledger.purge_due(at + Duration::days(29)).await.unwrap(), 0);
        assert_eq!(t.store.head().await.unwrap().position, head);
        assert!(matches!(
            ledger.user(gone).await.unwrap().status,
            Status::Deleted { .. }
        ));

        // Deleted 31 days ago: purged; the restored and the never deleted
        // users are left alone.
        assert_eq!(ledger.purge_due(at + Duration::days(31)).await.unwrap(), 1);
        assert_eq!(ledger.user(gone).await.unwrap().status, Status::Purged);
        assert_eq!(ledger.user(gone).await.unwrap().email, None);
        assert_eq!(ledger.user(back).await.unwrap().status, Status::Active);
        assert_eq!(ledger.user(stays).await.unwrap().status, Status::Active);

        // Idempotent: a second sweep (a restart, another process) purges
        // nobody again and appends nothing.
        let head = t.store.head().await.unwrap();
        assert_eq!(ledger.purge_due(at + Duration::days(40)).await.unwrap(), 0);
        assert_eq!(t.store.head().await.unwrap().position, head.position);

        // By the system, because of the deletion.
        let deleted = events_of(&t, "user.deleted")
            .await
            .into_iter()
            .find(|e| e.stream_id == gone.stream())
            .unwrap();
        let purged = events_of(&t, "user.purged").await;
        assert_eq!(purged.len(), 1);
        let purge = metadata(&purged[0]);
        assert_eq!(purge["actor"]["kind"], "system");
        assert_eq!(purge["action_type"], "Purge User");
        assert_eq!(purge["causation_id"], deleted.event_id.to_string());
        assert_eq!(
            purge["correlation_id"],
            metadata(&deleted)["correlation_id"]
        );
        assert_eq!(
            purge["correlation_id"],
            admin.correlation_id.unwrap().to_string()
        );

        // The chain still verifies; the read model shows the user erased.
        portal_ledger::integrity::verify_store(t.store.clone(), None, |_| {})
            .await
            .unwrap();
        assert!(
            projections
                .wait_for(head.position, support::PROJECTION_WAIT)
                .await
        );
        let users = projections.target().dump("proj_users").await.unwrap();
        let row = |id: UserId| -> Value {
            users
                .iter()
                .map(|r| serde_json::from_str::<Value>(r).unwrap())
                .find(|r| r["user_id"] == id.to_string())
                .unwrap()
        };
        assert_eq!(row(gone)["status"], "purged");
        assert!(row(gone)["email"].is_null() && row(gone)["name"].is_null());
        assert_eq!(row(back)["status"], "active");
        assert_eq!(row(back)["email"], "came.back@acme.example");
        let everything = users.join("\n");
        assert!(!everything.contains("gone.soon"), "{everything}");
        projections.stop();
    }
);

on_both_backends!(
    the_retention_period_is_the_ledgers,
    |t: support::TestStore| async move {
        let ledger =
            Ledger::new(t.store.clone(), t.personal.clone()).with_retention(Duration::days(7));
        let (org, admin) = organization(&ledger).await;
        let user = add_user(&ledger, &admin, org, "short.stay@acme.example").await;
        ledger
            .run(&admin, DeleteUser { user_id: user })
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(user).await.unwrap().status else {
            panic!("deleted")
        };
        assert_eq!(ledger.purge_due(at + Duration::days(6)).await.unwrap(), 0);
        assert_eq!(ledger.purge_due(at + Duration::days(8)).await.unwrap(), 1);
        assert_eq!(ledger.user(user).await.unwrap().status, Status::Purged);
    }
);

fn portal_ledger(t: &support::TestStore, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
        .args(t.cli_args())
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PORTAL_LEDGER_RETENTION_DAYS")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run portal-ledger")
}

on_both_backends!(
    the_purge_command_prints_how_many_it_purged,
    |t: support::TestStore| async move {
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let (org, admin) = organization(&ledger).await;
        let user = add_user(&ledger, &admin, org, "leaving@acme.example").await;
        ledger
            .run(&admin, DeleteUser { user_id: user })
            .await
            .unwrap();

        // The default retention (30 days) has not passed.
        let kept = portal_ledger(&t, &["purge"]);
        assert!(kept.status.success(), "{kept:?}");
        assert_eq!(String::from_utf8_lossy(&kept.stdout), "purged 0 users\n");

        // No retention at all: the next sweep purges, once.
        let purge = portal_ledger(&t, &["purge", "--retention-days", "0"]);
        assert!(purge.status.success(), "{purge:?}");
        assert_eq!(String::from_utf8_lossy(&purge.stdout), "purged 1 users\n");
        let again = Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
            .args(t.cli_args())
            .args(["purge"])
            .env_remove("DATABASE_URL")
            .env("PORTAL_LEDGER_RETENTION_DAYS", "0")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(again.status.success(), "{again:?}");
        assert_eq!(String::from_utf8_lossy(&again.stdout), "purged 0 users\n");
        let fresh = Ledger::new(t.store.clone(), t.reopen().await.personal_data());
        assert_eq!(fresh.user(user).await.unwrap().status, Status::Purged);

        // A retention that is not a number of days is a usage error.
        let bad = portal_ledger(&t, &["purge", "--retention-days", "-3"]);
        assert_eq!(bad.status.code(), Some(2));
        let bad = portal_ledger(&t, &["purge", "--retention-days", "ninety"]);
        assert_eq!(bad.status.code(), Some(2));
    }
);
