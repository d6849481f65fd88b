//! Accounts and users through the application layer, on both backends:
//! tenancy, the permission matrix, the user lifecycle with a clock the test
//! controls, the metadata every event records, and the invariants under
//! concurrency.

use crate::support;

use chrono::Duration;
use portal_ledger::app::accounts::{CreateAccount, TransferOwnership};
use portal_ledger::app::licenses;
use portal_ledger::app::servers;
use portal_ledger::app::users::{
    AssignCustomers, ChangeRole, CreateUser, DeleteUser, ForceLogout, PurgeUser, RestoreUser,
    UpdateProfile,
};
use portal_ledger::app::{CommandContext, Ledger, LedgerError};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, UserId};
use portal_ledger::domain::permissions::Denied;
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin, Status};
use portal_ledger::domain::DomainError;
use portal_ledger::store::ReadFilter;
use uuid::Uuid;

struct World {
    ledger: Ledger,
    platform: AccountId,
    platform_admin: UserId,
    partner: AccountId,
    partner_admin: UserId,
    org: AccountId,
    org_admin: UserId,
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        user_id: UserId(Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        name: format!("Name of {email}"),
        role,
        origin: Origin::Direct,
        invitation: None,
    }
}

async fn add_user(
    ledger: &Ledger,
    by: &CommandContext,
    account: AccountId,
    email: &str,
    role: Role,
) -> UserId {
    let new = new_user(email, role);
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

/// Platform → partner → customer organization, each with an admin.
async fn world(t: &support::TestStore) -> World {
    let ledger = Ledger::new(t.store.clone(), t.personal.clone());
    let system = CommandContext::system();
    let platform = AccountId(Uuid::now_v7());
    ledger
        .run(
            &system,
            CreateAccount {
                account_id: platform,
                kind: AccountKind::Platform,
                name: String::from("Platform"),
                parent: None,
            },
        )
        .await
        .unwrap();
    let platform_admin = add_user(
        &ledger,
        &system,
        platform,
        "root@platform.example",
        Role::Admin,
    )
    .await;

    let partner = AccountId(Uuid::now_v7());
    ledger
        .run(
            &CommandContext::system(),
            CreateAccount {
                account_id: partner,
                kind: AccountKind::Partner,
                name: String::from("Reseller Ltd"),
                parent: Some(platform),
            },
        )
        .await
        .unwrap();
    let partner_admin = add_user(
        &ledger,
        &CommandContext::as_user(platform_admin),
        partner,
        "boss@reseller.example",
        Role::Admin,
    )
    .await;

    let org = AccountId(Uuid::now_v7());
    ledger
        .run(
            &CommandContext::as_user(partner_admin),
            CreateAccount {
                account_id: org,
                kind: AccountKind::Organization,
                name: String::from("Customer GmbH"),
                parent: Some(partner),
            },
        )
        .await
        .unwrap();
    let org_admin = add_user(
        &ledger,
        &CommandContext::as_user(partner_admin),
        org,
        "admin@customer.example",
        Role::Admin,
    )
    .await;
    World {
        ledger,
        platform,
        platform_admin,
        partner,
        partner_admin,
        org,
        org_admin,
    }
}

on_both_backends!(
    tenancy_and_the_permission_matrix_hold,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let as_partner = CommandContext::as_user(w.partner_admin);
        let as_org_admin = CommandContext::as_user(w.org_admin);

        // A customer admin cannot reach the partner or the platform: hidden.
        let err = w
            .ledger
            .run(
                &as_org_admin,
                CreateUser {
                    account_id: w.partner,
                    user: new_user("x@reseller.example", Role::Admin),
                    username: None,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::Denied(Denied::Hidden)), "{err}");
        // Another partner's customer is hidden from this partner.
        let other_partner = AccountId(Uuid::now_v7());
        w.ledger
            .run(
                &CommandContext::system(),
                CreateAccount {
                    account_id: other_partner,
                    kind: AccountKind::Partner,
                    name: String::from("Other"),
                    parent: Some(w.platform),
                },
            )
            .await
            .unwrap();
        let other_admin = add_user(
            &w.ledger,
            &CommandContext::as_user(w.platform_admin),
            other_partner,
            "o@other.example",
            Role::Admin,
        )
        .await;
        let err = w
            .ledger
            .run(
                &CommandContext::as_user(other_admin),
                ChangeRole {
                    user_id: w.org_admin,
                    role: Role::ReadOnly,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::Denied(Denied::Hidden)), "{err}");

        // Read-only users change nothing; regular users manage no users.
        let reader = add_user(
            &w.ledger,
            &as_org_admin,
            w.org,
            "reader@customer.example",
            Role::ReadOnly,
        )
        .await;
        let err = w
            .ledger
            .run(
                &CommandContext::as_user(reader),
                CreateUser {
                    account_id: w.org,
                    user: new_user("y@customer.example", Role::Regular),
                    username: None,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                LedgerError::Denied(Denied::Forbidden {
                    role: Role::ReadOnly,
                    ..
                })
            ),
            "{err}"
        );
        // But everyone edits their own profile.
        w.ledger
            .run(
                &CommandContext::as_user(reader),
                UpdateProfile {
                    user_id: reader,
                    name: Some("Rita Reader".into()),
                    email: None,
                    username: None,
                },
            )
            .await
            .unwrap();

        // Partner-only roles are refused in organizations.
        let err = w
            .ledger
            .run(
                &as_partner,
                CreateUser {
                    account_id: w.org,
                    user: new_user("s@customer.example", Role::Sales),
                    username: None,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::Role(_))),
            "{err}"
        );
        // Notification-only users cannot act at all.
        let notified = add_user(
            &w.ledger,
            &as_partner,
            w.partner,
            "alerts@reseller.example",
            Role::Notifications,
        )
        .await;
        let err = w
            .ledger
            .run(
                &CommandContext::as_user(notified),
                DeleteUser { user_id: reader },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::Denied(_)), "{err}");

        // A refused command appends nothing.
        let head = t.store.head().await.unwrap();
        let _ = w
            .ledger
            .run(
                &CommandContext::as_user(reader),
                ChangeRole {
                    user_id: w.org_admin,
                    role: Role::Regular,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(t.store.head().await.unwrap(), head);
    }
);

on_both_backends!(
    every_event_records_who_where_and_why,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let context = CommandContext {
            actor: Some(w.partner_admin),
            service: None,
            ip: Some("203.0.113.7".into()),
            user_agent: Some("portal/1.0".into()),
            request_id: Some("req-1".into()),
            correlation_id: Some(Uuid::now_v7()),
            causation_id: None,
        };
        let user = add_user(
            &w.ledger,
            &context,
            w.org,
            "new@customer.example",
            Role::Support,
        )
        .await;
        let mut events = t.store.read_stream(&user.stream(), 1, 10).await.unwrap();
        // Stored sealed (see `privacy`); opened as every reader sees them.
        assert!(events[0].metadata.as_str().contains("\"sealed\""));
        t.personal.open(&mut events).await.unwrap();
        let meta = events[0].metadata.to_value();
        assert_eq!(meta["actor"]["email"], "boss@reseller.example");
        assert_eq!(meta["actor"]["user_id"], w.partner_admin.to_string());
        assert_eq!(meta["account"], w.org.to_string());
        assert_eq!(meta["on_behalf_of"], w.org.to_string());
        assert_eq!(meta["ip"], "203.0.113.7");
        assert_eq!(meta["user_agent"], "portal/1.0");
        assert_eq!(
            meta["correlation_id"],
            context.correlation_id.unwrap().to_string()
        );
        assert_eq!(meta["authorization"]["role"], "admin");
        assert_eq!(meta["authorization"]["relation"]["kind"], "customer");
        assert_eq!(meta["targets"][0]["id"], user.to_string());
        assert!(meta["description"]
            .as_str()
            .unwrap()
            .contains("new@customer.example"));
        assert_eq!(events[0].event_type.as_str(), "user.created");
        // The payload does not repeat the type.
        assert!(events[0].payload.to_value().get("type").is_none());
    }
);

on_both_backends!(
    the_user_lifecycle_follows_the_retention_period,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let admin = CommandContext::as_user(w.org_admin);
        let ledger = w.ledger.clone().with_retention(Duration::days(30));
        let second_admin = add_user(
            &ledger,
            &admin,
            w.org,
            "second@customer.example",
            Role::Admin,
        )
        .await;
        assert_eq!(ledger.account(w.org).await.unwrap().admins.len(), 2);

        ledger
            .run(
                &admin,
                DeleteUser {
                    user_id: second_admin,
                },
            )
            .await
            .unwrap();
        let deleted = ledger.user(second_admin).await.unwrap();
        let Status::Deleted { at } = deleted.status else {
            panic!("not deleted")
        };
        assert_eq!(ledger.account(w.org).await.unwrap().admins.len(), 1);
        // The address is free while the user is deleted …
        let taker = new_user("SECOND@customer.example", Role::Regular);
        ledger
            .run(
                &admin,
                CreateUser {
                    account_id: w.org,
                    user: taker.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();
        // … so restoring must wait until it is free again.
        let err = ledger
            .run(
                &admin,
                RestoreUser {
                    user_id: second_admin,
                    now: at + Duration::days(1),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::EmailTaken)),
            "{err}"
        );
        ledger
            .run(
                &admin,
                DeleteUser {
                    user_id: taker.user_id,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                RestoreUser {
                    user_id: second_admin,
                    now: at + Duration::days(29),
                },
            )
            .await
            .unwrap();
        let restored = ledger.user(second_admin).await.unwrap();
        assert_eq!(restored.status, Status::Active);
        assert_eq!(restored.role, Some(Role::Admin));
        assert_eq!(ledger.account(w.org).await.unwrap().admins.len(), 2);

        // The second deletion is restorable for 30 days only, then purged.
        ledger
            .run(
                &admin,
                DeleteUser {
                    user_id: second_admin,
                },
            )
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(second_admin).await.unwrap().status else {
            panic!()
        };
        let system = CommandContext::system();
        let err = ledger
            .run(
                &system,
                PurgeUser {
                    user_id: second_admin,
                    now: at + Duration::days(29),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            LedgerError::Domain(DomainError::RetentionNotExpired)
        ));
        let err = ledger
            .run(
                &admin,
                RestoreUser {
                    user_id: second_admin,
                    now: at + Duration::days(31),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            LedgerError::Domain(DomainError::RetentionExpired)
        ));
        ledger
            .run(
                &system,
                PurgeUser {
                    user_id: second_admin,
                    now: at + Duration::days(31),
                },
            )
            .await
            .unwrap();
        let purged = ledger.user(second_admin).await.unwrap();
        assert_eq!(purged.status, Status::Purged);
        assert_eq!(purged.email, None);

        // The owner is protected; the last admin stays.
        let err = ledger
            .run(
                &CommandContext::as_user(w.partner_admin),
                DeleteUser {
                    user_id: w.org_admin,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::OwnerProtected)),
            "{err}"
        );
        let err = ledger
            .run(
                &admin,
                ChangeRole {
                    user_id: w.org_admin,
                    role: Role::Regular,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                LedgerError::Domain(DomainError::OwnerMustTransferFirst)
            ),
            "{err}"
        );
        portal_ledger::integrity::verify_store(t.store.clone(), None, |_| {})
            .await
            .unwrap();
    }
);

on_both_backends!(
    one_address_one_live_user_under_concurrency,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let admin = CommandContext::as_user(w.org_admin);
        let mut tasks = Vec::new();
        for i in 0..12 {
            let ledger = w.ledger.clone();
            let admin = admin.clone();
            let org = w.org;
            tasks.push(tokio::spawn(async move {
                let email = if i % 2 == 0 {
                    "same@customer.example"
                } else {
                    "SAME@Customer.example"
                };
                ledger
                    .run(
                        &admin,
                        CreateUser {
                            account_id: org,
                            user: new_user(email, Role::Regular),
                            username: None,
                        },
                    )
                    .await
            }));
        }
        let mut created = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => created += 1,
                Err(LedgerError::Domain(DomainError::EmailTaken)) => {}
                Err(other) => panic!("unexpected: {other}"),
            }
        }
        assert_eq!(created, 1);
        let mut user_events = t
            .store
            .read_all(
                1,
                10_000,
                &ReadFilter {
                    categories: vec!["user".into()],
                    event_types: vec![],
                },
            )
            .await
            .unwrap();
        t.personal.open(&mut user_events).await.unwrap();
        let created_events = user_events
            .into_iter()
            .filter(|e| {
                e.payload.as_str().contains("same@customer.example")
                    || e.payload.as_str().contains("SAME@Customer.example")
            })
            .count();
        assert_eq!(created_events, 1);
    }
);

on_both_backends!(
    ownership_and_admin_rights_stay_consistent_under_races,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        // Round after round: the owner hands ownership to B while C demotes B.
        // Whatever the order, the owner must end up an active admin.
        for round in 0..6 {
            let state = w.ledger.account(w.org).await.unwrap();
            let current_owner = state.primary_admin.unwrap();
            let b = add_user(
                &w.ledger,
                &CommandContext::as_user(current_owner),
                w.org,
                &format!("b{round}@customer.example"),
                Role::Admin,
            )
            .await;
            let c = add_user(
                &w.ledger,
                &CommandContext::as_user(current_owner),
                w.org,
                &format!("c{round}@customer.example"),
                Role::Admin,
            )
            .await;
            let (ledger1, ledger2) = (w.ledger.clone(), w.ledger.clone());
            let org = w.org;
            let transfer = tokio::spawn(async move {
                ledger1
                    .run(
                        &CommandContext::as_user(current_owner),
                        TransferOwnership {
                            account_id: org,
                            to: b,
                        },
                    )
                    .await
            });
            let demote = tokio::spawn(async move {
                ledger2
                    .run(
                        &CommandContext::as_user(c),
                        ChangeRole {
                            user_id: b,
                            role: Role::Regular,
                        },
                    )
                    .await
            });
            let (transfer, demote) = (transfer.await.unwrap(), demote.await.unwrap());
            assert!(
                transfer.is_ok() != demote.is_ok(),
                "round {round}: exactly one may win ({transfer:?}, {demote:?})"
            );
            let state = w.ledger.account(w.org).await.unwrap();
            let owner_now = state.primary_admin.unwrap();
            assert!(
                state.admins.contains(&owner_now),
                "round {round}: the owner is not an admin"
            );
        }
    }
);

on_both_backends!(
    partner_staff_see_only_their_assigned_customers,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let as_partner = CommandContext::as_user(w.partner_admin);
        let second_org = AccountId(Uuid::now_v7());
        w.ledger
            .run(
                &as_partner,
                CreateAccount {
                    account_id: second_org,
                    kind: AccountKind::Organization,
                    name: String::from("Second Customer"),
                    parent: Some(w.partner),
                },
            )
            .await
            .unwrap();
        let staff = add_user(
            &w.ledger,
            &as_partner,
            w.partner,
            "staff@reseller.example",
            Role::User,
        )
        .await;
        let as_staff = CommandContext::as_user(staff);
        let server = |n: u128| portal_ledger::domain::ids::ServerId(Uuid::from_u128(n));

        // No assignment: every customer of the partner.
        w.ledger
            .run(
                &as_staff,
                servers::RegisterServer {
                    account_id: w.org,
                    server_id: server(1),
                    name: String::from("a"),
                    location: None,
                    partner_access: true,
                },
            )
            .await
            .unwrap();
        w.ledger
            .run(
                &as_staff,
                servers::RegisterServer {
                    account_id: second_org,
                    server_id: server(2),
                    name: String::from("b"),
                    location: None,
                    partner_access: true,
                },
            )
            .await
            .unwrap();

        // Assigned to the first customer only: the second disappears (404).
        w.ledger
            .run(
                &as_partner,
                AssignCustomers {
                    user_id: staff,
                    customers: vec![w.org],
                },
            )
            .await
            .unwrap();
        w.ledger
            .run(
                &as_staff,
                servers::RecordServerAction {
                    server_id: server(1),
                    action: String::from("restart"),
                },
            )
            .await
            .unwrap();
        let err = w
            .ledger
            .run(
                &as_staff,
                servers::RecordServerAction {
                    server_id: server(2),
                    action: String::from("restart"),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::Denied(Denied::Hidden)), "{err}");
        // Staff never manage users, even in assigned customers.
        let err = w
            .ledger
            .run(
                &as_staff,
                CreateUser {
                    account_id: w.org,
                    user: new_user("x@customer.example", Role::Regular),
                    username: None,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        // Only the partner's own customers can be assigned.
        let other_partner = AccountId(Uuid::now_v7());
        w.ledger
            .run(
                &CommandContext::system(),
                CreateAccount {
                    account_id: other_partner,
                    kind: AccountKind::Partner,
                    name: String::from("Other"),
                    parent: Some(w.platform),
                },
            )
            .await
            .unwrap();
        let err = w
            .ledger
            .run(
                &as_partner,
                AssignCustomers {
                    user_id: staff,
                    customers: vec![other_partner],
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::NotACustomer)),
            "{err}"
        );
        // Back to none assigned: all customers again.
        w.ledger
            .run(
                &as_partner,
                AssignCustomers {
                    user_id: staff,
                    customers: vec![],
                },
            )
            .await
            .unwrap();
        w.ledger
            .run(
                &as_staff,
                servers::RecordServerAction {
                    server_id: server(2),
                    action: String::from("restart"),
                },
            )
            .await
            .unwrap();
    }
);

/// The activity action type of the last event on `stream`.
async fn last_action_type(
    t: &support::TestStore,
    stream: &portal_ledger::event::StreamId,
) -> String {
    let mut events = t.store.read_stream(stream, 1, 10_000).await.unwrap();
    t.personal.open(&mut events).await.unwrap();
    let last = events.last().expect("the stream has events");
    last.metadata.to_value()["action_type"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

on_both_backends!(
    role_changes_update_groups_and_rights_update_permissions,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let as_partner = CommandContext::as_user(w.partner_admin);
        let as_org_admin = CommandContext::as_user(w.org_admin);

        // Roles (the seed's "user groups"), also to and from Admin.
        let user = add_user(
            &w.ledger,
            &as_org_admin,
            w.org,
            "groups@customer.example",
            Role::Regular,
        )
        .await;
        for role in [Role::Support, Role::Admin] {
            w.ledger
                .run(
                    &as_org_admin,
                    ChangeRole {
                        user_id: user,
                        role,
                    },
                )
                .await
                .unwrap();
            assert_eq!(
                last_action_type(&t, &user.stream()).await,
                "Update User Groups"
            );
        }
        assert_eq!(
            last_action_type(&t, &w.org.stream()).await,
            "Update User Groups",
            "the admin right comes with the role change, in the same command"
        );

        // Customer assignments and ownership are permissions.
        let staff = add_user(
            &w.ledger,
            &as_partner,
            w.partner,
            "perm@reseller.example",
            Role::User,
        )
        .await;
        w.ledger
            .run(
                &as_partner,
                AssignCustomers {
                    user_id: staff,
                    customers: vec![w.org],
                },
            )
            .await
            .unwrap();
        assert_eq!(
            last_action_type(&t, &staff.stream()).await,
            "Update User Permissions"
        );
        w.ledger
            .run(
                &as_org_admin,
                TransferOwnership {
                    account_id: w.org,
                    to: user,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            last_action_type(&t, &w.org.stream()).await,
            "Update User Permissions"
        );
    }
);

on_both_backends!(
    the_owner_is_edited_only_by_the_owner,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let auth =
            portal_ledger::app::sessions::Auth::new(w.ledger.clone(), t.backend.credentials());
        let now = chrono::Utc::now();
        // The customer's owner is w.org_admin; a second admin of the
        // customer and the partner's admin are other admins.
        let as_owner = CommandContext::as_user(w.org_admin);
        let second = add_user(
            &w.ledger,
            &as_owner,
            w.org,
            "second@customer.example",
            Role::Admin,
        )
        .await;
        let others = [
            CommandContext::as_user(second),
            CommandContext::as_user(w.partner_admin),
        ];
        let new_email = Email::parse("hijack@customer.example").unwrap();
        let head = t.store.head().await.unwrap().position;
        for other in &others {
            let refusals = [
                w.ledger
                    .run(
                        other,
                        UpdateProfile {
                            user_id: w.org_admin,
                            name: Some("Someone Else".into()),
                            email: None,
                            username: None,
                        },
                    )
                    .await
                    .map(|_| ()),
                w.ledger
                    .run(
                        other,
                        UpdateProfile {
                            user_id: w.org_admin,
                            name: None,
                            email: Some(new_email.clone()),
                            username: None,
                        },
                    )
                    .await
                    .map(|_| ()),
                auth.reset_password(other, w.org_admin, now)
                    .await
                    .map(|_| ())
                    .map_err(|e| match e {
                        portal_ledger::app::sessions::AuthError::Ledger(e) => e,
                        other => panic!("unexpected: {other}"),
                    }),
                auth.ledger()
                    .run(
                        other,
                        ForceLogout {
                            user_id: w.org_admin,
                        },
                    )
                    .await
                    .map(|_| ()),
            ];
            for refusal in refusals {
                let err = refusal.unwrap_err();
                assert!(
                    matches!(err, LedgerError::Domain(DomainError::OwnerProtected)),
                    "{err}"
                );
            }
        }
        assert_eq!(t.store.head().await.unwrap().position, head);
        // The partner's owner: another partner admin cannot assign customers.
        let partner_second = add_user(
            &w.ledger,
            &CommandContext::as_user(w.partner_admin),
            w.partner,
            "second@reseller.example",
            Role::Admin,
        )
        .await;
        let head = t.store.head().await.unwrap().position;
        let err = w
            .ledger
            .run(
                &CommandContext::as_user(partner_second),
                AssignCustomers {
                    user_id: w.partner_admin,
                    customers: vec![w.org],
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::OwnerProtected)),
            "{err}"
        );
        // Nothing of it was appended.
        assert_eq!(t.store.head().await.unwrap().position, head);
        assert_eq!(
            w.ledger.user(w.org_admin).await.unwrap().name,
            "Name of admin@customer.example"
        );

        // The owner edits themself; others are edited by other admins as before.
        w.ledger
            .run(
                &as_owner,
                UpdateProfile {
                    user_id: w.org_admin,
                    name: Some("The Owner".into()),
                    email: None,
                    username: None,
                },
            )
            .await
            .unwrap();
        auth.ledger()
            .run(
                &as_owner,
                ForceLogout {
                    user_id: w.org_admin,
                },
            )
            .await
            .unwrap();
        w.ledger
            .run(
                &others[0],
                UpdateProfile {
                    user_id: second,
                    name: Some("Second Admin".into()),
                    email: None,
                    username: None,
                },
            )
            .await
            .unwrap();
        auth.reset_password(&others[1], second, now).await.unwrap();
        auth.ledger()
            .run(&others[1], ForceLogout { user_id: second })
            .await
            .unwrap();

        // Once ownership moved, the former owner is an ordinary admin.
        w.ledger
            .run(
                &as_owner,
                TransferOwnership {
                    account_id: w.org,
                    to: second,
                },
            )
            .await
            .unwrap();
        w.ledger
            .run(
                &others[0],
                UpdateProfile {
                    user_id: w.org_admin,
                    name: Some("Former Owner".into()),
                    email: None,
                    username: None,
                },
            )
            .await
            .unwrap();
        let err = w
            .ledger
            .run(
                &as_owner,
                UpdateProfile {
                    user_id: second,
                    name: Some("Not Allowed".into()),
                    email: None,
                    username: None,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::OwnerProtected)),
            "{err}"
        );
    }
);

/// Concurrency rounds per race: each round releases both commands at once.
const ROUNDS: usize = 20;

/// Who holds an address now, from its claim stream.
async fn claim_holder(t: &support::TestStore, email: &str) -> Option<String> {
    let stream = Email::parse(email).unwrap().claim_stream();
    let events = t.store.read_stream(&stream, 1, 10_000).await.unwrap();
    let last = events.last()?;
    (last.event_type.as_str() == "email.claimed").then(|| {
        last.payload.to_value()["user_id"]
            .as_str()
            .unwrap()
            .to_owned()
    })
}

/// Runs `first` and `second` released together by a barrier.
async fn race<A, B, FA, FB, TA, TB>(first: A, second: B) -> (TA, TB)
where
    A: FnOnce() -> FA + Send + 'static,
    B: FnOnce() -> FB + Send + 'static,
    FA: std::future::Future<Output = TA> + Send,
    FB: std::future::Future<Output = TB> + Send,
    TA: Send + 'static,
    TB: Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let (b1, b2) = (barrier.clone(), barrier);
    let a = tokio::spawn(async move {
        b1.wait().await;
        first().await
    });
    let b = tokio::spawn(async move {
        b2.wait().await;
        second().await
    });
    (a.await.unwrap(), b.await.unwrap())
}

on_both_backends!(
    two_admins_demoting_each_other_leave_one_admin,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let as_partner = CommandContext::as_user(w.partner_admin);
        for round in 0..ROUNDS {
            // A fresh organization with exactly two admins; the first owns it.
            // Every other round the second owns it (ownership transferred), so
            // both directions of the race are run.
            let org = AccountId(Uuid::now_v7());
            w.ledger
                .run(
                    &as_partner,
                    CreateAccount {
                        account_id: org,
                        kind: AccountKind::Organization,
                        name: String::from(&format!("Org {round}")),
                        parent: Some(w.partner),
                    },
                )
                .await
                .unwrap();
            let a = add_user(
                &w.ledger,
                &as_partner,
                org,
                &format!("a{round}@race.example"),
                Role::Admin,
            )
            .await;
            let b = add_user(
                &w.ledger,
                &as_partner,
                org,
                &format!("b{round}@race.example"),
                Role::Admin,
            )
            .await;
            if round % 2 == 1 {
                w.ledger
                    .run(
                        &CommandContext::as_user(a),
                        TransferOwnership {
                            account_id: org,
                            to: b,
                        },
                    )
                    .await
                    .unwrap();
            }
            assert_eq!(w.ledger.account(org).await.unwrap().admins.len(), 2);
            let head = t.store.head().await.unwrap().position;
            let (l1, l2) = (w.ledger.clone(), w.ledger.clone());
            let (a_demotes_b, b_demotes_a) = race(
                move || async move {
                    l1.run(
                        &CommandContext::as_user(a),
                        ChangeRole {
                            user_id: b,
                            role: Role::Regular,
                        },
                    )
                    .await
                },
                move || async move {
                    l2.run(
                        &CommandContext::as_user(b),
                        ChangeRole {
                            user_id: a,
                            role: Role::Regular,
                        },
                    )
                    .await
                },
            )
            .await;
            assert!(
                a_demotes_b.is_ok() != b_demotes_a.is_ok(),
                "round {round}: exactly one demotion may win ({a_demotes_b:?}, {b_demotes_a:?})"
            );
            // The loser is refused: the account's owner is always one of
            // its active admins, so the other admin's demotion of the owner
            // is `OwnerProtected` when decided first, and `Forbidden` when
            // decided (or retried) after the owner's demotion of them has
            // committed (they are no admin any more). The last-admin rule
            // never has to fire between two admins.
            let refused = a_demotes_b.err().or(b_demotes_a.err()).unwrap();
            assert!(
                matches!(
                    refused,
                    LedgerError::Domain(DomainError::OwnerProtected | DomainError::LastAdmin)
                        | LedgerError::Denied(Denied::Forbidden { .. })
                ),
                "round {round}: {refused}"
            );
            let state = w.ledger.account(org).await.unwrap();
            assert_eq!(state.admins.len(), 1, "round {round}");
            assert!(state.admins.contains(&state.primary_admin.unwrap()));
            // One command appended: user.role_changed + account.admin_removed.
            assert_eq!(t.store.head().await.unwrap().position, head + 2);
        }
    }
);

on_both_backends!(
    an_address_change_racing_a_creation_has_one_winner,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let admin = CommandContext::as_user(w.org_admin);
        for round in 0..ROUNDS {
            let mover = add_user(
                &w.ledger,
                &admin,
                w.org,
                &format!("mover{round}@customer.example"),
                Role::Regular,
            )
            .await;
            let address = format!("wanted{round}@customer.example");
            let wanted = Email::parse(&address).unwrap();
            let newcomer = new_user(&address, Role::Support);
            let newcomer_id = newcomer.user_id;
            let (l1, l2, c1, c2) = (
                w.ledger.clone(),
                w.ledger.clone(),
                admin.clone(),
                admin.clone(),
            );
            let (moved, created) = race(
                move || async move {
                    l1.run(
                        &c1,
                        UpdateProfile {
                            user_id: mover,
                            name: None,
                            email: Some(wanted.clone()),
                            username: None,
                        },
                    )
                    .await
                },
                move || async move {
                    l2.run(
                        &c2,
                        CreateUser {
                            account_id: w.org,
                            user: newcomer.clone(),
                            username: None,
                        },
                    )
                    .await
                },
            )
            .await;
            assert!(
                moved.is_ok() != created.is_ok(),
                "round {round}: exactly one may win ({moved:?}, {created:?})"
            );
            let loser = moved.err().or(created.err()).unwrap();
            assert!(
                matches!(loser, LedgerError::Domain(DomainError::EmailTaken)),
                "round {round}: {loser}"
            );
            let winner = if w.ledger.user(newcomer_id).await.unwrap().user_id.is_some() {
                newcomer_id
            } else {
                mover
            };
            assert_eq!(
                claim_holder(&t, &address).await,
                Some(winner.to_string()),
                "round {round}"
            );
            let mover_state = w.ledger.user(mover).await.unwrap();
            assert_eq!(
                mover_state.email.as_ref().map(Email::as_str) == Some(address.as_str()),
                winner == mover,
                "round {round}"
            );
            // The mover's old address is held by the mover unless it moved.
            let old = format!("mover{round}@customer.example");
            assert_eq!(
                claim_holder(&t, &old).await,
                (winner != mover).then(|| mover.to_string()),
                "round {round}"
            );
        }
    }
);

on_both_backends!(
    a_restore_racing_a_creation_with_the_address_has_one_winner,
    |t: support::TestStore| async move {
        let w = world(&t).await;
        let admin = CommandContext::as_user(w.org_admin);
        for round in 0..ROUNDS {
            let address = format!("returning{round}@customer.example");
            let returning = add_user(&w.ledger, &admin, w.org, &address, Role::Regular).await;
            w.ledger
                .run(&admin, DeleteUser { user_id: returning })
                .await
                .unwrap();
            let Status::Deleted { at } = w.ledger.user(returning).await.unwrap().status else {
                panic!("not deleted")
            };
            let newcomer = new_user(&address.to_uppercase(), Role::Support);
            let newcomer_id = newcomer.user_id;
            let (l1, l2, c1, c2) = (
                w.ledger.clone(),
                w.ledger.clone(),
                admin.clone(),
                admin.clone(),
            );
            let (restored, created) = race(
                move || async move {
                    l1.run(
                        &c1,
                        RestoreUser {
                            user_id: returning,
                            now: at + Duration::days(1),
                        },
                    )
                    .await
                },
                move || async move {
                    l2.run(
                        &c2,
                        CreateUser {
                            account_id: w.org,
                            user: newcomer.clone(),
                            username: None,
                        },
                    )
                    .await
                },
            )
            .await;
            assert!(
                restored.is_ok() != created.is_ok(),
                "round {round}: exactly one may win ({restored:?}, {created:?})"
            );
            let loser = restored.as_ref().err().or(created.as_ref().err()).unwrap();
            assert!(
                matches!(loser, LedgerError::Domain(DomainError::EmailTaken)),
                "round {round}: {loser}"
            );
            let winner = if restored.is_ok() {
                returning
            } else {
                newcomer_id
            };
            assert_eq!(
                claim_holder(&t, &address).await,
                Some(winner.to_string()),
                "round {round}"
            );
            let returning_state = w.ledger.user(returning).await.unwrap();
            assert_eq!(
                returning_state.status == Status::Active,
                winner == returning,
                "round {round}"
            );
        }
    }
);

on_both_backends!(
    restore_brings_back_role_assignments_and_free_seats_and_reports_the_rest,
    |t: support::TestStore| async move {
        use portal_ledger::domain::ids::LicenseId;
        let w = world(&t).await;
        let as_partner = CommandContext::as_user(w.partner_admin);
        let admin = CommandContext::as_user(w.org_admin);

        // Partner staff assigned to one customer: deleted and restored, the
        // role and the assignment come back.
        let staff = add_user(
            &w.ledger,
            &as_partner,
            w.partner,
            "staff@reseller.example",
            Role::User,
        )
        .await;
        w.ledger
            .run(
                &as_partner,
                AssignCustomers {
                    user_id: staff,
                    customers: vec![w.org],
                },
            )
            .await
            .unwrap();
        w.ledger
            .run(&as_partner, DeleteUser { user_id: staff })
            .await
            .unwrap();
        let Status::Deleted { at } = w.ledger.user(staff).await.unwrap().status else {
            panic!("not deleted")
        };
        let not_restored = w
            .ledger
            .run(
                &as_partner,
                RestoreUser {
                    user_id: staff,
                    now: at + Duration::days(1),
                },
            )
            .await
            .unwrap()
            .output
            .licenses_not_restored;
        assert!(not_restored.is_empty());
        let back = w.ledger.user(staff).await.unwrap();
        assert_eq!(back.status, Status::Active);
        assert_eq!(back.role, Some(Role::User));
        assert_eq!(back.assigned_customers, [w.org].into_iter().collect());

        // An organization user with two licenses: one of one seat, taken by
        // someone else while the user is deleted, and one with seats to
        // spare. The restore assigns the free one and reports the other.
        let (scarce, roomy) = (LicenseId(Uuid::now_v7()), LicenseId(Uuid::now_v7()));
        w.ledger
            .run(
                &admin,
                licenses::CreateLicense {
                    account_id: w.org,
                    license_id: scarce,
                    product: String::from("Scarce"),
                    seats: 1,
                },
            )
            .await
            .unwrap();
        w.ledger
            .run(
                &admin,
                licenses::CreateLicense {
                    account_id: w.org,
                    license_id: roomy,
                    product: String::from("Roomy"),
                    seats: 5,
                },
            )
            .await
            .unwrap();
        let holder = add_user(
            &w.ledger,
            &admin,
            w.org,
            "holder@customer.example",
            Role::Support,
        )
        .await;
        for license in [scarce, roomy] {
            w.ledger
                .run(
                    &admin,
                    licenses::AssignLicense {
                        license_id: license,
                        users: vec![holder],
                    },
                )
                .await
                .unwrap();
        }
        w.ledger
            .run(&admin, DeleteUser { user_id: holder })
            .await
            .unwrap();
        let deleted = w.ledger.user(holder).await.unwrap();
        assert!(deleted.licenses.is_empty(), "deletion releases the seats");
        let Status::Deleted { at } = deleted.status else {
            panic!("not deleted")
        };
        let other = add_user(
            &w.ledger,
            &admin,
            w.org,
            "other@customer.example",
            Role::Regular,
        )
        .await;
        w.ledger
            .run(
                &admin,
                licenses::AssignLicense {
                    license_id: scarce,
                    users: vec![other],
                },
            )
            .await
            .unwrap();
        let not_restored = w
            .ledger
            .run(
                &admin,
                RestoreUser {
                    user_id: holder,
                    now: at + Duration::days(2),
                },
            )
            .await
            .unwrap()
            .output
            .licenses_not_restored;
        assert_eq!(not_restored, vec![scarce]);
        let back = w.ledger.user(holder).await.unwrap();
        assert_eq!(back.status, Status::Active);
        assert_eq!(back.role, Some(Role::Support));
        assert_eq!(back.licenses, [roomy].into_iter().collect());
        // The seat taken meanwhile stays with its new holder.
        let mut license_events = t.store.read_stream(&scarce.stream(), 1, 100).await.unwrap();
        t.personal.open(&mut license_events).await.unwrap();
        let last = license_events.last().unwrap();
        assert_eq!(last.event_type.as_str(), "license.assigned");
        assert!(last.payload.as_str().contains(&other.to_string()));
    }
);

on_both_backends!(
    usernames_are_unique_among_live_users_and_personal,
    |t: support::TestStore| async move {
        use portal_ledger::domain::username::Username;
        let w = world(&t).await;
        let admin = CommandContext::as_user(w.org_admin);
        let ledger = w.ledger.clone().with_retention(Duration::days(30));
        let name = |s: &str| Username::parse(s).unwrap();

        let ada = new_user("ada@customer.example", Role::Regular);
        ledger
            .run(
                &admin,
                CreateUser {
                    account_id: w.org,
                    user: ada.clone(),
                    username: Some(name("Ada.L")),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            ledger.user(ada.user_id).await.unwrap().username,
            Some(name("ada.l"))
        );
        // Stored sealed, like the name.
        let stored = t
            .store
            .read_stream(&ada.user_id.stream(), 1, 1)
            .await
            .unwrap();
        let payload = stored[0].payload.to_value();
        assert!(payload["username"]["sealed"].is_string(), "{payload}");

        // Taken, in any letter case: refused, nothing appended.
        let head = t.store.head().await.unwrap().position;
        let bob = new_user("bob@customer.example", Role::Regular);
        let err = ledger
            .run(
                &admin,
                CreateUser {
                    account_id: w.org,
                    user: bob.clone(),
                    username: Some(name("ADA.L")),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::UsernameTaken)),
            "{err}"
        );
        ledger
            .run(
                &admin,
                CreateUser {
                    account_id: w.org,
                    user: bob.clone(),
                    username: Some(name("bob")),
                },
            )
            .await
            .unwrap();
        let before_patch = t.store.head().await.unwrap().position;
        assert!(before_patch > head);
        let err = ledger
            .run(
                &admin,
                UpdateProfile {
                    user_id: bob.user_id,
                    name: None,
                    email: None,
                    username: Some(name("ada.l")),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::UsernameTaken)),
            "{err}"
        );
        assert_eq!(t.store.head().await.unwrap().position, before_patch);

        // Renaming frees the old one.
        ledger
            .run(
                &admin,
                UpdateProfile {
                    user_id: ada.user_id,
                    name: None,
                    email: None,
                    username: Some(name("lovelace")),
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                UpdateProfile {
                    user_id: bob.user_id,
                    name: None,
                    email: None,
                    username: Some(name("ada.l")),
                },
            )
            .await
            .unwrap();

        // Deletion frees "lovelace"; taken meanwhile, the restore comes back
        // without it and says so.
        ledger
            .run(
                &admin,
                DeleteUser {
                    user_id: ada.user_id,
                },
            )
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(ada.user_id).await.unwrap().status else {
            panic!("not deleted")
        };
        let carol = new_user("carol@customer.example", Role::Regular);
        ledger
            .run(
                &admin,
                CreateUser {
                    account_id: w.org,
                    user: carol.clone(),
                    username: Some(name("lovelace")),
                },
            )
            .await
            .unwrap();
        let report = ledger
            .run(
                &admin,
                RestoreUser {
                    user_id: ada.user_id,
                    now: at + Duration::days(1),
                },
            )
            .await
            .unwrap()
            .output;
        assert_eq!(report.username_not_restored, Some(name("lovelace")));
        let back = ledger.user(ada.user_id).await.unwrap();
        assert_eq!(back.status, Status::Active);
        assert_eq!(back.username, None);
        // Free again after the holder is deleted: a restore reclaims it.
        ledger
            .run(
                &admin,
                UpdateProfile {
                    user_id: ada.user_id,
                    name: None,
                    email: None,
                    username: Some(name("ada")),
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                DeleteUser {
                    user_id: ada.user_id,
                },
            )
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(ada.user_id).await.unwrap().status else {
            panic!("not deleted")
        };
        let report = ledger
            .run(
                &admin,
                RestoreUser {
                    user_id: ada.user_id,
                    now: at + Duration::days(1),
                },
            )
            .await
            .unwrap()
            .output;
        assert_eq!(report.username_not_restored, None);
        assert_eq!(
            ledger.user(ada.user_id).await.unwrap().username,
            Some(name("ada"))
        );
        let dave = new_user("dave@customer.example", Role::Regular);
        let err = ledger
            .run(
                &admin,
                CreateUser {
                    account_id: w.org,
                    user: dave.clone(),
                    username: Some(name("ada")),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Domain(DomainError::UsernameTaken)),
            "{err}"
        );

        // A purge erases it: the log's events read as the placeholder.
        ledger
            .run(
                &admin,
                DeleteUser {
                    user_id: ada.user_id,
                },
            )
            .await
            .unwrap();
        let Status::Deleted { at } = ledger.user(ada.user_id).await.unwrap().status else {
            panic!("not deleted")
        };
        ledger
            .run(
                &CommandContext::system(),
                PurgeUser {
                    user_id: ada.user_id,
                    now: at + Duration::days(31),
                },
            )
            .await
            .unwrap();
        assert_eq!(ledger.user(ada.user_id).await.unwrap().username, None);
        let mut events = t
            .store
            .read_stream(&ada.user_id.stream(), 1, 100)
            .await
            .unwrap();
        t.personal.open(&mut events).await.unwrap();
        for event in &events {
            let payload = event.payload.to_value();
            if let Some(username) = payload.get("username").and_then(|u| u.as_str()) {
                assert!(username.starts_with("erased-"), "{username}");
                assert!(Username::parse(username).is_ok());
            }
        }
        portal_ledger::integrity::verify_store(t.store.clone(), None, |_| {})
            .await
            .unwrap();
    }
);

on_both_backends!(
    one_username_one_live_user_under_concurrency,
    |t: support::TestStore| async move {
        use portal_ledger::domain::username::Username;
        let w = world(&t).await;
        let admin = CommandContext::as_user(w.org_admin);
        for round in 0..ROUNDS {
            // A creation and a rename race for one username (other cases).
            let renamed = add_user(
                &w.ledger,
                &admin,
                w.org,
                &format!("renamed{round}@customer.example"),
                Role::Regular,
            )
            .await;
            let wanted = format!("Handle{round}");
            let newcomer = new_user(&format!("newcomer{round}@customer.example"), Role::Regular);
            let newcomer_id = newcomer.user_id;
            let (l1, l2, c1, c2) = (
                w.ledger.clone(),
                w.ledger.clone(),
                admin.clone(),
                admin.clone(),
            );
            let (u1, u2) = (
                Username::parse(&wanted).unwrap(),
                Username::parse(&wanted.to_uppercase()).unwrap(),
            );
            let (created, moved) = race(
                move || async move {
                    l1.run(
                        &c1,
                        CreateUser {
                            account_id: w.org,
                            user: newcomer.clone(),
                            username: Some(u1.clone()),
                        },
                    )
                    .await
                },
                move || async move {
                    l2.run(
                        &c2,
                        UpdateProfile {
                            user_id: renamed,
                            name: None,
                            email: None,
                            username: Some(u2.clone()),
                        },
                    )
                    .await
                },
            )
            .await;
            assert!(
                created.is_ok() != moved.is_ok(),
                "round {round}: exactly one may win ({created:?}, {moved:?})"
            );
            let loser = created.as_ref().err().or(moved.as_ref().err()).unwrap();
            assert!(
                matches!(loser, LedgerError::Domain(DomainError::UsernameTaken)),
                "round {round}: {loser}"
            );
            let mut holders = 0;
            for id in [newcomer_id, renamed] {
                let state = w.ledger.user(id).await.unwrap();
                if state
                    .username
                    .is_some_and(|u| u.as_str() == wanted.to_lowercase())
                {
                    holders += 1;
                }
            }
            assert_eq!(holders, 1, "round {round}");
        }
    }
);
