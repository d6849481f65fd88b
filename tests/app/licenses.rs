//! Licenses on both backends: seats never over-assigned under concurrency,
//! all-or-nothing bulk assignment, delete releases and restore re-assigns
//! where seats are free, cancel releases all, who may manage them.

use crate::support;

use chrono::{Duration, Utc};
use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::licenses;
use portal_ledger::app::users::{CreateUser, DeleteUser, RestoreUser};
use portal_ledger::app::{CommandContext, Ledger, LedgerError};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, LicenseId, UserId};
use portal_ledger::domain::permissions::Denied;
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin};
use portal_ledger::domain::DomainError;
use uuid::Uuid;

struct Org {
    ledger: Ledger,
    admin: CommandContext,
    org: AccountId,
    users: Vec<UserId>,
}

async fn org_with_users(t: &support::TestStore, n: usize) -> Org {
    let ledger = Ledger::new(t.store.clone(), t.personal.clone());
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
    let mut users = Vec::new();
    for i in 0..=n {
        let new = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse(&format!("u{i}@acme-{}.example", org.0.simple())).unwrap(),
            name: format!("U{i}"),
            role: if i == 0 { Role::Admin } else { Role::Regular },
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
        users.push(new.user_id);
    }
    let admin = CommandContext::as_user(users.remove(0));
    Org {
        ledger,
        admin,
        org,
        users,
    }
}

fn domain(e: LedgerError) -> DomainError {
    match e {
        LedgerError::Domain(d) => d,
        other => panic!("expected a domain error, got {other}"),
    }
}

on_both_backends!(
    seats_are_never_over_assigned_under_concurrency,
    |t: support::TestStore| async move {
        let o = org_with_users(&t, 10).await;
        let license = LicenseId(Uuid::now_v7());
        o.ledger
            .run(
                &o.admin,
                licenses::CreateLicense {
                    account_id: o.org,
                    license_id: license,
                    product: String::from("Pro"),
                    seats: 3,
                },
            )
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for user in o.users.clone() {
            let (ledger, admin) = (o.ledger.clone(), o.admin.clone());
            tasks.push(tokio::spawn(async move {
                ledger
                    .run(
                        &admin,
                        licenses::AssignLicense {
                            license_id: license,
                            users: vec![user],
                        },
                    )
                    .await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => won += 1,
                Err(e) => assert!(matches!(
                    domain(e),
                    DomainError::NotEnoughSeats {
                        free: 0,
                        requested: 1
                    }
                )),
            }
        }
        assert_eq!(won, 3);
        let mut holders = 0;
        for user in &o.users {
            holders += usize::from(
                o.ledger
                    .user(*user)
                    .await
                    .unwrap()
                    .licenses
                    .contains(&license),
            );
        }
        assert_eq!(holders, 3, "user streams agree with the license stream");
    }
);

on_both_backends!(
    bulk_assignment_is_all_or_nothing,
    |t: support::TestStore| async move {
        let o = org_with_users(&t, 3).await;
        let license = LicenseId(Uuid::now_v7());
        o.ledger
            .run(
                &o.admin,
                licenses::CreateLicense {
                    account_id: o.org,
                    license_id: license,
                    product: String::from("Pro"),
                    seats: 2,
                },
            )
            .await
            .unwrap();
        let head = t.store.head().await.unwrap();
        let err = o
            .ledger
            .run(
                &o.admin,
                licenses::AssignLicense {
                    license_id: license,
                    users: o.users.to_vec(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            domain(err),
            DomainError::NotEnoughSeats {
                free: 2,
                requested: 3
            }
        );
        assert_eq!(t.store.head().await.unwrap(), head);
        o.ledger
            .run(
                &o.admin,
                licenses::AssignLicense {
                    license_id: license,
                    users: o.users[..2].to_vec(),
                },
            )
            .await
            .unwrap();
        let err = o
            .ledger
            .run(
                &o.admin,
                licenses::ChangeSeats {
                    license_id: license,
                    seats: 1,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::SeatsInUse { in_use: 2 });
        o.ledger
            .run(
                &o.admin,
                licenses::ChangeSeats {
                    license_id: license,
                    seats: 3,
                },
            )
            .await
            .unwrap();
        o.ledger
            .run(
                &o.admin,
                licenses::ReleaseLicense {
                    license_id: license,
                    users: o.users[..1].to_vec(),
                },
            )
            .await
            .unwrap();
        assert!(!o
            .ledger
            .user(o.users[0])
            .await
            .unwrap()
            .licenses
            .contains(&license));
        o.ledger
            .run(
                &o.admin,
                licenses::CancelLicense {
                    license_id: license,
                },
            )
            .await
            .unwrap();
        assert!(o.ledger.user(o.users[1]).await.unwrap().licenses.is_empty());
        let err = o
            .ledger
            .run(
                &o.admin,
                licenses::AssignLicense {
                    license_id: license,
                    users: o.users[..1].to_vec(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::LicenseCancelled);
    }
);

on_both_backends!(
    delete_releases_seats_and_restore_reassigns_where_free,
    |t: support::TestStore| async move {
        let o = org_with_users(&t, 3).await;
        let (pro, basic) = (LicenseId(Uuid::now_v7()), LicenseId(Uuid::now_v7()));
        o.ledger
            .run(
                &o.admin,
                licenses::CreateLicense {
                    account_id: o.org,
                    license_id: pro,
                    product: String::from("Pro"),
                    seats: 1,
                },
            )
            .await
            .unwrap();
        o.ledger
            .run(
                &o.admin,
                licenses::CreateLicense {
                    account_id: o.org,
                    license_id: basic,
                    product: String::from("Basic"),
                    seats: 5,
                },
            )
            .await
            .unwrap();
        let user = o.users[0];
        o.ledger
            .run(
                &o.admin,
                licenses::AssignLicense {
                    license_id: pro,
                    users: vec![user],
                },
            )
            .await
            .unwrap();
        o.ledger
            .run(
                &o.admin,
                licenses::AssignLicense {
                    license_id: basic,
                    users: vec![user],
                },
            )
            .await
            .unwrap();

        o.ledger
            .run(&o.admin, DeleteUser { user_id: user })
            .await
            .unwrap();
        assert!(o.ledger.user(user).await.unwrap().licenses.is_empty());
        // The only Pro seat goes to someone else meanwhile.
        o.ledger
            .run(
                &o.admin,
                licenses::AssignLicense {
                    license_id: pro,
                    users: vec![o.users[1]],
                },
            )
            .await
            .unwrap();

        let not_restored = o
            .ledger
            .run(
                &o.admin,
                RestoreUser {
                    user_id: user,
                    now: Utc::now() + Duration::days(1),
                },
            )
            .await
            .unwrap()
            .output
            .licenses_not_restored;
        assert_eq!(not_restored, vec![pro]);
        let restored = o.ledger.user(user).await.unwrap();
        assert!(restored.licenses.contains(&basic));
        assert!(!restored.licenses.contains(&pro));
        portal_ledger::integrity::verify_store(t.store.clone(), None, |_| {})
            .await
            .unwrap();
    }
);

on_both_backends!(
    who_may_manage_licenses,
    |t: support::TestStore| async move {
        let o = org_with_users(&t, 1).await;
        let license = LicenseId(Uuid::now_v7());
        o.ledger
            .run(
                &o.admin,
                licenses::CreateLicense {
                    account_id: o.org,
                    license_id: license,
                    product: String::from("Pro"),
                    seats: 2,
                },
            )
            .await
            .unwrap();
        let regular = CommandContext::as_user(o.users[0]);
        // Regular users manage services and licenses; support does not.
        let support = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("support@acme.example").unwrap(),
            name: "S".into(),
            role: Role::Support,
            origin: Origin::Direct,
            invitation: None,
        };
        o.ledger
            .run(
                &o.admin,
                CreateUser {
                    account_id: o.org,
                    user: support.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();
        let err = o
            .ledger
            .run(
                &CommandContext::as_user(support.user_id),
                licenses::AssignLicense {
                    license_id: license,
                    users: vec![o.users[0]],
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        o.ledger
            .run(
                &regular,
                licenses::AssignLicense {
                    license_id: license,
                    users: vec![o.users[0]],
                },
            )
            .await
            .unwrap();

        // Users of another organization cannot hold this license.
        let other = org_with_users(&t, 1).await;
        let err = o
            .ledger
            .run(
                &o.admin,
                licenses::AssignLicense {
                    license_id: license,
                    users: vec![other.users[0]],
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::NotLicensable);
        let err = other
            .ledger
            .run(
                &other.admin,
                licenses::CreateLicense {
                    account_id: o.org,
                    license_id: LicenseId(Uuid::now_v7()),
                    product: String::from("X"),
                    seats: 1,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::Denied(Denied::Hidden)), "{err}");
    }
);
