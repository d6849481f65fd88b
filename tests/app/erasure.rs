//! Crypto-shredding on both backends: personal data is sealed in the log,
//! readable while its keys live, and unreadable everywhere after a purge —
//! while the log still verifies and rebuilt projections equal live ones.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::users::{
    CreateUser, DeleteUser, PurgeUser, RestoreUser, SetLocationTrust, UpdateProfile,
};
use std::sync::Arc;

use chrono::{Duration, Utc};
use portal_ledger::app::sessions::Auth;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::auth::password::Password;
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::UserId;
use portal_ledger::domain::invitation::InvitationTarget;
use portal_ledger::domain::role::Role;
use portal_ledger::domain::user::{NewUser, Origin, Status};
use portal_ledger::notify::MemoryNotifier;
use portal_ledger::privacy::fields::ERASED_TEXT;
use portal_ledger::projection::runner::Projections;
use portal_ledger::store::{ReadFilter, SharedStore};
use serde_json::Value;
use uuid::Uuid;

const TABLES: [&str; 7] = [
    "proj_users",
    "proj_activity",
    "proj_invitations",
    "proj_accounts",
    "proj_outbox",
    "proj_sessions",
    "proj_trusted_locations",
];

/// Every stored payload and metadata as one text (what an export holds).
async fn raw_log(store: &SharedStore) -> String {
    let events = store
        .read_all(1, 100_000, &ReadFilter::all())
        .await
        .unwrap();
    events
        .iter()
        .map(|e| format!("{} {}\n", e.payload.as_str(), e.metadata.as_str()))
        .collect()
}

async fn dump(projections: &Projections) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for table in TABLES {
        out.push(projections.target().dump(table).await.unwrap());
    }
    out
}

fn row_of(dump: &[String], column: &str, value: &str) -> Value {
    dump.iter()
        .map(|r| serde_json::from_str::<Value>(r).unwrap())
        .find(|r| r[column] == value)
        .unwrap_or_else(|| panic!("no row with {column} = {value}"))
}

on_both_backends!(
    purge_makes_personal_data_unreadable_without_rewriting_the_log,
    |t: support::TestStore| async move {
        let projections = t.live_projections().await;
        let mail = MemoryNotifier::default();
        let auth = Auth::new(
            Ledger::new(t.store.clone(), t.personal.clone()),
            t.backend.credentials(),
        )
        .with_notifier(Arc::new(mail.clone()));
        let now = Utc::now();
        let (platform, root, _) = auth
            .bootstrap(&Email::parse("root@platform.example").unwrap(), now)
            .await
            .unwrap();
        let root = CommandContext {
            ip: Some("198.51.100.7".into()),
            user_agent: Some("RootBrowser/1.0".into()),
            ..CommandContext::as_user(root)
        };
        let ledger = auth.ledger();

        // Ann signs up through an invitation; Bob is created directly.
        let ann_email = Email::parse("ann.secret@example.com").unwrap();
        auth.invite(
            &root,
            &ann_email,
            InvitationTarget::User {
                account_id: platform,
                role: Role::Support,
            },
            now,
        )
        .await
        .unwrap();
        let code = mail
            .sent()
            .last()
            .unwrap()
            .body
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned();
        let ann_context = CommandContext {
            ip: Some("203.0.113.55".into()),
            user_agent: Some("AnnBrowser/9".into()),
            ..CommandContext::system()
        };
        let ann = auth
            .accept_invitation(
                &ann_context,
                &code,
                "Ann Secret",
                &Password::parse("ann's long password").unwrap(),
                now,
            )
            .await
            .unwrap()
            .user_id;
        // Ann acts herself, from her own address.
        let as_ann = CommandContext {
            ip: Some("203.0.113.55".into()),
            user_agent: Some("AnnBrowser/9".into()),
            ..CommandContext::as_user(ann)
        };
        ledger
            .run(
                &as_ann,
                UpdateProfile {
                    user_id: ann,
                    name: Some("Ann Secretive".into()),
                    email: None,
                    username: None,
                },
            )
            .await
            .unwrap();
        auth.sign_in(
            &ann_context,
            "ann.secret@example.com",
            "ann's long password",
            now,
        )
        .await
        .unwrap();
        auth.ledger()
            .run(
                &as_ann,
                SetLocationTrust {
                    user_id: ann,
                    ip: String::from("203.0.113.55"),
                    trusted: true,
                },
            )
            .await
            .unwrap();
        let bob = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("bob.keeps@example.com").unwrap(),
            name: "Bob Keeps".into(),
            role: Role::ReadOnly,
            origin: Origin::Direct,
            invitation: None,
        };
        ledger
            .run(
                &root,
                CreateUser {
                    account_id: platform,
                    user: bob.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();

        // At rest, nobody's personal data is in clear in the log.
        let raw = raw_log(&t.store).await;
        for secret in [
            "ann.secret",
            "Ann Secret",
            "203.0.113.55",
            "AnnBrowser",
            "bob.keeps",
            "Bob Keeps",
            "root@platform.example",
            "198.51.100.7",
        ] {
            assert!(!raw.contains(secret), "{secret} is stored in clear");
        }
        assert!(raw.contains("\"sealed\""));
        // Readers see it while the keys live.
        assert_eq!(
            ledger.user(ann).await.unwrap().email,
            Some(ann_email.clone())
        );
        assert_eq!(ledger.user(ann).await.unwrap().name, "Ann Secretive");

        // Delete, then purge after the retention period.
        ledger
            .run(&root, DeleteUser { user_id: ann })
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(ann).await.unwrap().status else {
            panic!("deleted")
        };
        let last = ledger
            .run(
                &CommandContext::system(),
                PurgeUser {
                    user_id: ann,
                    now: at + Duration::days(31),
                },
            )
            .await
            .unwrap();
        assert!(
            projections
                .wait_for(last.last_position(), support::PROJECTION_WAIT)
                .await
        );

        // The log is unchanged and verifies; Ann's data no longer opens, not
        // even in a fresh process (no cached keys), while Bob's and the
        // admin's still do.
        portal_ledger::integrity::verify_store(t.store.clone(), None, |_| {})
            .await
            .unwrap();
        let fresh = Ledger::new(t.store.clone(), t.reopen().await.personal_data());
        let purged = fresh.user(ann).await.unwrap();
        assert_eq!(purged.status, Status::Purged);
        assert_eq!(purged.email, None);
        assert_eq!(
            fresh.user(bob.user_id).await.unwrap().email,
            Some(bob.email.clone())
        );
        let mut events = t
            .store
            .read_all(1, 100_000, &ReadFilter::all())
            .await
            .unwrap();
        fresh.personal_data().open(&mut events).await.unwrap();
        let opened: String = events
            .iter()
            .map(|e| format!("{} {}\n", e.payload.as_str(), e.metadata.as_str()))
            .collect();
        for gone in ["ann.secret", "Ann Secret", "203.0.113.55", "AnnBrowser"] {
            assert!(!opened.contains(gone), "{gone} still readable");
        }
        for kept in [
            "bob.keeps",
            "Bob Keeps",
            "root@platform.example",
            "198.51.100.7",
        ] {
            assert!(opened.contains(kept), "{kept} lost");
        }

        // Projections show Ann as erased, everywhere.
        let live = dump(&projections).await;
        let ann_row = row_of(&live[0], "user_id", &ann.to_string());
        assert_eq!(ann_row["status"], "purged");
        assert!(ann_row["email"].is_null() && ann_row["name"].is_null());
        let everything = live.concat().join("\n");
        for gone in ["ann.secret", "Ann Secret", "203.0.113.55", "AnnBrowser"] {
            assert!(!everything.contains(gone), "{gone} still projected");
        }
        assert!(everything.contains("bob.keeps@example.com"));
        let invitation = row_of(&live[2], "accepted_user_id", &ann.to_string());
        assert!(invitation["email"]
            .as_str()
            .unwrap()
            .ends_with("@erased.invalid"));
        assert!(live[6].is_empty(), "trusted locations stay after purge");
        let session = row_of(&live[5], "user_id", &ann.to_string());
        assert!(session["ip"].is_null() && session["user_agent"].is_null());
        let own_update = row_of(&live[1], "actor_user_id", &ann.to_string());
        assert!(own_update["actor_email"].is_null() && own_update["ip"].is_null());
        assert_eq!(own_update["description"], ERASED_TEXT);
        let purge = row_of(&live[1], "action_type", "Purge User");
        assert!(purge["description"]
            .as_str()
            .unwrap()
            .contains(&ann.to_string()));

        // A rebuild from the log (keys gone) gives the very same rows.
        projections.stop();
        projections.rebuild(&[], &mut |_, _| {}).await.unwrap();
        assert_eq!(dump(&projections).await, live);

        // A purged person's key never comes back.
        let err = ledger
            .run(
                &root,
                RestoreUser {
                    user_id: ann,
                    now: at + Duration::days(1),
                },
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("purged"), "{err}");
    }
);

on_both_backends!(
    keys_move_with_the_log_and_purges_stay_purged,
    |t: support::TestStore| async move {
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let system = CommandContext::system();
        let org = portal_ledger::domain::ids::AccountId(Uuid::now_v7());
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: org,
                    kind: portal_ledger::domain::role::AccountKind::Organization,
                    name: String::from("Acme"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        let mut people = Vec::new();
        for (i, role) in [Role::Admin, Role::ReadOnly].into_iter().enumerate() {
            let new = NewUser {
                user_id: UserId(Uuid::now_v7()),
                email: Email::parse(&format!("person{i}@acme.example")).unwrap(),
                name: format!("Person {i}"),
                role,
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
            people.push(new.user_id);
        }
        ledger
            .run(
                &CommandContext::as_user(people[0]),
                DeleteUser { user_id: people[1] },
            )
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(people[1]).await.unwrap().status else {
            panic!("deleted")
        };
        ledger
            .run(
                &system,
                PurgeUser {
                    user_id: people[1],
                    now: at + Duration::days(31),
                },
            )
            .await
            .unwrap();

        // Export events and keys; import both into the other backend.
        let mut events = Vec::new();
        portal_ledger::transfer::export::export_ndjson(t.store.clone(), 1, &mut events, |_| {})
            .await
            .unwrap();
        let mut keys = Vec::new();
        let exported = portal_ledger::transfer::keys::export_keys(
            t.backend.personal_keys().as_ref(),
            &mut keys,
        )
        .await
        .unwrap();
        assert_eq!(exported, 2, "one live key, one tombstone");
        let other = support::TestStore::new(match t.kind {
            support::Kind::Embedded => support::Kind::Postgres,
            support::Kind::Postgres => support::Kind::Embedded,
        })
        .await;
        // Without keys the copy reads every person as erased.
        portal_ledger::transfer::import::import_ndjson(
            other.backend.bulk(),
            std::io::Cursor::new(events),
            |_| {},
        )
        .await
        .unwrap();
        let copy = Ledger::new(other.store.clone(), other.backend.personal_data());
        let keeper = copy.user(people[0]).await.unwrap();
        assert!(keeper.email.unwrap().as_str().ends_with("@erased.invalid"));
        // With them, the living read as before and the purged stay purged.
        portal_ledger::transfer::keys::import_keys(
            other.backend.personal_keys().as_ref(),
            &mut std::io::Cursor::new(keys.clone()),
        )
        .await
        .unwrap();
        let copy = Ledger::new(other.store.clone(), other.backend.personal_data());
        assert_eq!(
            copy.user(people[0]).await.unwrap().email.unwrap().as_str(),
            "person0@acme.example"
        );
        let gone = copy.user(people[1]).await.unwrap();
        assert_eq!((gone.status, gone.email), (Status::Purged, None));
        let dump = other.backend.personal_keys().dump().await.unwrap();
        assert_eq!(dump.len(), 2);
        // A second import is a no-op; a damaged key file is refused whole.
        portal_ledger::transfer::keys::import_keys(
            other.backend.personal_keys().as_ref(),
            &mut std::io::Cursor::new(keys.clone()),
        )
        .await
        .unwrap();
        let damaged =
            String::from_utf8(keys)
                .unwrap()
                .replacen("\"secret\":\"", "\"secret\":\"!", 1);
        let err = portal_ledger::transfer::keys::import_keys(
            other.backend.personal_keys().as_ref(),
            &mut std::io::Cursor::new(damaged.into_bytes()),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
    }
);
