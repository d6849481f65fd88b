//! Notifications on both backends: every e-mail is recorded in the log
//! with its cause and shows in the outbox read model (signup codes never
//! do), preferences decide digests, and digests go out once per period.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::users::{CreateUser, DeleteUser, SetNotificationPreferences};
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Datelike, Duration, TimeZone, Utc, Weekday};
use portal_ledger::app::sessions::Auth;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::backend::{open_projections, Migrations};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::UserId;
use portal_ledger::domain::invitation::InvitationTarget;
use portal_ledger::domain::notification::{Category, Frequency, Preferences};
use portal_ledger::domain::role::Role;
use portal_ledger::domain::user::{NewUser, Origin};
use portal_ledger::notify::MemoryNotifier;
use portal_ledger::projection::read_models::ReadModels;
use portal_ledger::projection::runner::Projections;
use portal_ledger::store::ReadFilter;
use serde_json::Value;
use uuid::Uuid;

on_both_backends!(
    every_email_is_recorded_and_digests_follow_preferences,
    |t: support::TestStore| async move {
        // Every event below falls on the day the digests count.
        support::clear_of_utc_midnight().await;
        let target = open_projections(&t.location, Migrations::Apply)
            .await
            .unwrap();
        let projections = Projections::new(t.store.clone(), t.personal.clone(), target.clone());
        projections.start();
        let mail = MemoryNotifier::default();
        let auth = Auth::new(
            Ledger::new(t.store.clone(), t.personal.clone()),
            t.backend.credentials(),
        )
        .with_notifier(Arc::new(mail.clone()));
        let now = Utc::now();
        let (platform, root_id, _) = auth
            .bootstrap(&Email::parse("root@platform.example").unwrap(), now)
            .await
            .unwrap();
        let root = CommandContext::as_user(root_id);
        let ledger = auth.ledger();

        // Invitation: the e-mail carries the code, the log and outbox do not.
        let invitee = Email::parse("invitee@example.com").unwrap();
        auth.invite(
            &root,
            &invitee,
            InvitationTarget::User {
                account_id: platform,
                role: Role::Support,
            },
            now,
        )
        .await
        .unwrap();
        let sent = mail.sent();
        let invitation_mail = sent.last().unwrap();
        assert_eq!(invitation_mail.to, "invitee@example.com");
        let code = invitation_mail
            .body
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned();
        assert!(code.len() > 20);

        // A reset and a deletion e-mail the user.
        let bob = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("bob@platform.example").unwrap(),
            name: "Bob".into(),
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
        auth.reset_password(&root, bob.user_id, now).await.unwrap();
        let last = ledger
            .run(
                &root,
                DeleteUser {
                    user_id: bob.user_id,
                },
            )
            .await
            .unwrap();
        let subjects: Vec<String> = mail.sent().iter().map(|m| m.subject.clone()).collect();
        assert_eq!(
            subjects,
            [
                "You are invited",
                "Your password was reset",
                "Your access was revoked"
            ]
        );
        assert!(mail
            .sent()
            .iter()
            .skip(1)
            .all(|m| m.to == "bob@platform.example"));

        assert!(
            projections
                .wait_for(last.last_position(), support::PROJECTION_WAIT)
                .await
        );
        let outbox: Vec<Value> = target
            .fetch("proj_outbox", &[], "position", 100)
            .await
            .unwrap();
        let kinds: Vec<&str> = outbox.iter().map(|r| r["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["invitation", "password_reset", "access_revoked"]);
        assert_eq!(outbox[0]["recipient"], "invitee@example.com");
        assert_eq!(outbox[2]["recipient"], "bob@platform.example");
        assert_eq!(outbox[2]["recipient_user_id"], bob.user_id.to_string());
        assert_eq!(outbox[2]["account_id"], platform.to_string());
        let everything = format!("{outbox:?}");
        assert!(!everything.contains(&code), "the signup code leaked");
        let raw: String = t
            .store
            .read_all(1, 10_000, &ReadFilter::all())
            .await
            .unwrap()
            .iter()
            .map(|e| format!("{}{}", e.payload.as_str(), e.metadata.as_str()))
            .collect();
        assert!(!raw.contains(&code) && !raw.contains(code.split('.').next_back().unwrap()));

        // Preferences: the root admin daily on users; a Notifications-only
        // user weekly on servers and users; an admin with no categories.
        let nora = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("nora@platform.example").unwrap(),
            name: "Nora".into(),
            role: Role::Notifications,
            origin: Origin::Direct,
            invitation: None,
        };
        ledger
            .run(
                &root,
                CreateUser {
                    account_id: platform,
                    user: nora.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();
        let quiet = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("quiet@platform.example").unwrap(),
            name: "Quiet".into(),
            role: Role::Admin,
            origin: Origin::Direct,
            invitation: None,
        };
        ledger
            .run(
                &root,
                CreateUser {
                    account_id: platform,
                    user: quiet.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();
        let prefs = |frequency, categories: &[Category]| Preferences {
            frequency,
            categories: categories.iter().copied().collect::<BTreeSet<_>>(),
        };
        ledger
            .run(
                &root,
                SetNotificationPreferences {
                    user_id: root_id,
                    preferences: prefs(Frequency::Daily, &[Category::Users]),
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &root,
                SetNotificationPreferences {
                    user_id: nora.user_id,
                    preferences: prefs(Frequency::Weekly, &[Category::Servers, Category::Users]),
                },
            )
            .await
            .unwrap();
        // Users may set their own; a Notifications-only user cannot sign
        // in, so an admin sets theirs (above).
        let last = ledger
            .run(
                &CommandContext::as_user(quiet.user_id),
                SetNotificationPreferences {
                    user_id: quiet.user_id,
                    preferences: prefs(Frequency::Daily, &[]),
                },
            )
            .await
            .unwrap();
        assert!(
            projections
                .wait_for(last.last_position(), support::PROJECTION_WAIT)
                .await
        );
        let source = ReadModels(target.clone());

        // Tomorrow: the daily digest of today's activity, to root only.
        let tomorrow = now + Duration::days(1);
        let tomorrow = Utc
            .with_ymd_and_hms(tomorrow.year(), tomorrow.month(), tomorrow.day(), 3, 0, 0)
            .unwrap();
        let before = mail.sent().len();
        let sent = ledger.send_digests(tomorrow, &source).await.unwrap();
        let sent_tomorrow: Vec<_> = mail.sent()[before..].to_vec();
        // When today is a Sunday, tomorrow is also Nora's Monday.
        let tomorrow_is_monday = tomorrow.weekday() == Weekday::Mon;
        assert_eq!(sent, 1 + usize::from(tomorrow_is_monday));
        let digests: Vec<_> = sent_tomorrow
            .iter()
            .filter(|m| m.subject.contains("Daily"))
            .collect();
        assert_eq!(digests.len(), 1);
        assert_eq!(digests[0].to, "root@platform.example");
        assert!(digests[0].body.contains("- Users:"), "{}", digests[0].body);
        assert!(!digests[0].body.contains("Servers"));
        // Once per period, however often it runs.
        assert_eq!(ledger.send_digests(tomorrow, &source).await.unwrap(), 0);
        // The digest is caused by the preferences that asked for it.
        let log = t
            .store
            .read_all(1, 100_000, &ReadFilter::all())
            .await
            .unwrap();
        let chosen = log
            .iter()
            .rev()
            .find(|e| {
                e.stream_id == root_id.stream()
                    && e.event_type.as_str() == "user.notification_preferences_changed"
            })
            .unwrap();
        let digest: Vec<Value> = log
            .iter()
            .map(|e| e.metadata.to_value())
            .filter(|m| {
                m["action_type"] == "Send Digest"
                    && m["targets"][0]["id"] == root_id.to_string().as_str()
            })
            .collect();
        assert_eq!(digest.len(), 1);
        assert_eq!(digest[0]["actor"]["kind"], "system");
        assert_eq!(digest[0]["causation_id"], chosen.event_id.to_string());

        // Next Monday morning: Nora's weekly digest (and root's daily one).
        let weekly_run = if tomorrow_is_monday {
            sent_tomorrow
        } else {
            let mut monday = tomorrow;
            while monday.weekday() != Weekday::Mon || monday <= now {
                monday += Duration::days(1);
            }
            let monday = monday - Duration::hours(3) + Duration::hours(7);
            let before = mail.sent().len();
            ledger.send_digests(monday, &source).await.unwrap();
            mail.sent()[before..].to_vec()
        };
        let weekly: Vec<_> = weekly_run
            .iter()
            .filter(|m| m.subject.contains("Weekly"))
            .cloned()
            .collect();
        assert_eq!(weekly.len(), 1);
        assert_eq!(weekly[0].to, "nora@platform.example");
        assert!(weekly[0].body.contains("- Users:"));
        assert!(mail.sent().iter().all(|m| m.to != "quiet@platform.example"));
    }
);

/// "- Users: N changes" → N.
fn users_count(body: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix("- Users: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

on_both_backends!(
    digests_show_staff_their_customers_and_marketing_none,
    |t: support::TestStore| async move {
        // Every event below falls on the day the digests count.
        support::clear_of_utc_midnight().await;
        use portal_ledger::domain::ids::AccountId;
        use portal_ledger::domain::role::AccountKind;
        let target = open_projections(&t.location, Migrations::Apply)
            .await
            .unwrap();
        let projections = Projections::new(t.store.clone(), t.personal.clone(), target.clone());
        projections.start();
        let mail = MemoryNotifier::default();
        let ledger =
            Ledger::new(t.store.clone(), t.personal.clone()).with_notifier(Arc::new(mail.clone()));
        let system = CommandContext::system();
        let partner = AccountId(Uuid::now_v7());
        let customer = AccountId(Uuid::now_v7());
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: partner,
                    kind: AccountKind::Partner,
                    name: String::from("Reseller"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: customer,
                    kind: AccountKind::Organization,
                    name: String::from("Customer"),
                    parent: Some(partner),
                },
            )
            .await
            .unwrap();
        let add = |account, email: &str, role| {
            let new = NewUser {
                user_id: UserId(Uuid::now_v7()),
                email: Email::parse(email).unwrap(),
                name: email.into(),
                role,
                origin: Origin::Direct,
                invitation: None,
            };
            let ledger = ledger.clone();
            async move {
                ledger
                    .run(
                        &CommandContext::system(),
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
        };
        let marketing = add(partner, "kit@reseller.example", Role::Marketing).await;
        let staff = add(partner, "staff@reseller.example", Role::User).await;
        for i in 0..3 {
            add(customer, &format!("c{i}@customer.example"), Role::Admin).await;
        }
        let daily_users = Preferences {
            frequency: Frequency::Daily,
            categories: [Category::Users].into(),
        };
        ledger
            .run(
                &system,
                SetNotificationPreferences {
                    user_id: marketing,
                    preferences: daily_users.clone(),
                },
            )
            .await
            .unwrap();
        let last = ledger
            .run(
                &system,
                SetNotificationPreferences {
                    user_id: staff,
                    preferences: daily_users,
                },
            )
            .await
            .unwrap();
        assert!(
            projections
                .wait_for(last.last_position(), support::PROJECTION_WAIT)
                .await
        );
        let tomorrow = Utc::now() + Duration::days(1);
        let sent = ledger
            .send_digests(tomorrow, &ReadModels(target.clone()))
            .await
            .unwrap();
        assert_eq!(sent, 2);
        let body_of = |to: &str| {
            mail.sent()
                .into_iter()
                .find(|m| m.to == to)
                .unwrap_or_else(|| panic!("no digest to {to}"))
                .body
        };
        let own = users_count(&body_of("kit@reseller.example"));
        let with_customers = users_count(&body_of("staff@reseller.example"));
        // The partner's own 4 changes; staff also see the customer's 3.
        assert_eq!(own, 4);
        assert_eq!(with_customers, 7);
    }
);
