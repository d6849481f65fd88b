//! The user decisions, one behaviour each.

use super::*;
use chrono::{DateTime, Duration, Utc};

use crate::domain::account::{self, AccountEvent, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, LicenseId, UserId};
use crate::domain::notification::Preferences;
use crate::domain::role::AccountKind;
use crate::domain::role::Role;
use crate::domain::username::Username;
use crate::domain::DomainError;
use uuid::Uuid;

fn account() -> AccountState {
    let events = account::decide_create(
        &AccountState::default(),
        AccountId(Uuid::from_u128(1)),
        AccountKind::Organization,
        "Acme",
        None,
    )
    .unwrap();
    events.iter().fold(AccountState::default(), account::evolve)
}

fn create(account: &mut AccountState, n: u128, role: Role) -> UserState {
    let new = NewUser {
        user_id: UserId(Uuid::from_u128(n)),
        email: Email::parse(&format!("u{n}@example.com")).unwrap(),
        name: format!("User {n}"),
        role,
        origin: Origin::Direct,
        invitation: None,
    };
    let decision =
        decide_create(&UserState::default(), account, &EmailClaim::default(), &new).unwrap();
    *account = decision
        .account
        .iter()
        .fold(account.clone(), account::evolve);
    decision
        .user
        .iter()
        .fold(UserState::default(), |s, e| evolve(s, e, Utc::now()))
}

#[test]
fn creating_a_user_claims_the_address_and_admin_rights() {
    let mut acme = account();
    let first = create(&mut acme, 10, Role::Admin);
    assert_eq!(acme.primary_admin, first.user_id);
    let taken = EmailClaim {
        holder: first.user_id,
    };
    let again = NewUser {
        user_id: UserId(Uuid::from_u128(11)),
        email: Email::parse("U10@example.com").unwrap(),
        name: "Other".into(),
        role: Role::Regular,
        origin: Origin::Direct,
        invitation: None,
    };
    assert_eq!(
        decide_create(&UserState::default(), &acme, &taken, &again),
        Err(DomainError::EmailTaken)
    );
    let mut sales = again.clone();
    sales.role = Role::Sales;
    assert!(matches!(
        decide_create(&UserState::default(), &acme, &EmailClaim::default(), &sales),
        Err(DomainError::Role(_))
    ));
}

#[test]
fn delete_restore_and_purge_follow_the_retention_period() {
    let mut acme = account();
    let _owner = create(&mut acme, 10, Role::Admin);
    let user = create(&mut acme, 20, Role::Admin);
    let deleted_at = Utc::now();
    let decision = decide_delete(&user, &acme, &Licenses::new(), None).unwrap();
    assert_eq!(
        decision.account,
        vec![AccountEvent::AdminRemoved {
            user_id: UserId(Uuid::from_u128(20))
        }]
    );
    let acme = decision.account.iter().fold(acme, account::evolve);
    let user = decision
        .user
        .iter()
        .fold(user, |s, e| evolve(s, e, deleted_at));
    assert_eq!(
        decide_change_role(&user, &acme, Role::Regular, None),
        Err(DomainError::UserDeleted)
    );

    let retention = Duration::days(DEFAULT_RETENTION_DAYS);
    let later = deleted_at + Duration::days(29);
    let restored = decide_restore(
        &user,
        &acme,
        &EmailClaim::default(),
        &Licenses::new(),
        Role::Admin,
        later,
        retention,
    )
    .unwrap();
    assert_eq!(
        restored.user,
        vec![UserEvent::Restored {
            role: Role::Admin,
            without_username: false
        }]
    );
    assert_eq!(restored.account.len(), 1);
    assert_eq!(
        decide_purge(&user, later, retention),
        Err(DomainError::RetentionNotExpired)
    );

    let too_late = deleted_at + Duration::days(31);
    assert_eq!(
        decide_restore(
            &user,
            &acme,
            &EmailClaim::default(),
            &Licenses::new(),
            Role::Admin,
            too_late,
            retention
        ),
        Err(DomainError::RetentionExpired)
    );
    let taken = EmailClaim {
        holder: Some(UserId(Uuid::from_u128(99))),
    };
    assert_eq!(
        decide_restore(
            &user,
            &acme,
            &taken,
            &Licenses::new(),
            Role::Admin,
            later,
            retention
        ),
        Err(DomainError::EmailTaken)
    );
    let purge = decide_purge(&user, too_late, retention).unwrap();
    let purged = purge.user.iter().fold(user, |s, e| evolve(s, e, too_late));
    assert_eq!(purged.status, Status::Purged);
    assert_eq!(purged.email, None);
}

#[test]
fn a_second_factor_is_needed_only_away_from_trusted_locations() {
    let now = Utc::now();
    let acme = &mut account();
    let mut state = create(acme, 1, Role::Regular);
    let (acme, me) = (&*acme, state.user_id);
    assert!(!needs_second_factor(&state, Some("198.51.100.1")));
    assert_eq!(parse_location("not an ip"), Err(DomainError::InvalidIp));
    for e in decide_trust_location(&state, acme, " 2001:DB8::1 ", me)
        .unwrap()
        .user
    {
        state = evolve(state, &e, now);
    }
    assert!(state.trusted_locations.contains("2001:db8::1"));
    assert!(!needs_second_factor(&state, Some("2001:db8::1")));
    assert!(needs_second_factor(&state, Some("198.51.100.1")));
    assert!(needs_second_factor(&state, None));
    assert_eq!(
        decide_trust_location(&state, acme, "2001:db8::1", me).unwrap_err(),
        DomainError::AlreadyExists
    );

    let expires = now + Duration::minutes(10);
    for e in decide_challenge(&state, "198.51.100.1", "h1".into(), expires)
        .unwrap()
        .user
    {
        state = evolve(state, &e, now);
    }
    let wrong = [
        decide_pass_challenge(&state, "198.51.100.1", "h2", now),
        decide_pass_challenge(&state, "198.51.100.2", "h1", now),
        decide_pass_challenge(&state, "198.51.100.1", "h1", expires),
    ];
    for attempt in wrong {
        assert_eq!(attempt.unwrap_err(), DomainError::InvalidSecondFactor);
    }
    for e in decide_pass_challenge(&state, "198.51.100.1", "h1", now)
        .unwrap()
        .user
    {
        state = evolve(state, &e, now);
    }
    assert!(!needs_second_factor(&state, Some("198.51.100.1")));
    // Used up: the same code does not work twice.
    assert!(decide_pass_challenge(&state, "198.51.100.1", "h1", now).is_err());
    for e in decide_untrust_location(&state, acme, "198.51.100.1", me)
        .unwrap()
        .user
    {
        state = evolve(state, &e, now);
    }
    assert!(needs_second_factor(&state, Some("198.51.100.1")));
}

#[test]
fn the_type_list_names_every_variant() {
    let email = Email::parse("a@example.com").unwrap();
    let all = [
        UserEvent::Created {
            user_id: UserId(Uuid::nil()),
            account_id: AccountId(Uuid::nil()),
            email: email.clone(),
            name: "A".into(),
            role: Role::Admin,
            origin: Origin::Direct,
            invitation_id: None,
            username: None,
        },
        UserEvent::RoleChanged {
            from: Role::Admin,
            to: Role::Regular,
        },
        UserEvent::ProfileUpdated {
            name: None,
            email: None,
            username: None,
        },
        UserEvent::Deleted {
            role: Role::Admin,
            licenses: vec![],
        },
        UserEvent::Restored {
            role: Role::Admin,
            without_username: false,
        },
        UserEvent::Purged {
            invitation_id: None,
        },
        UserEvent::SessionsRevoked,
        UserEvent::PasswordChanged { temporary: true },
        UserEvent::LicenseAssigned {
            license_id: LicenseId(Uuid::nil()),
        },
        UserEvent::LicenseReleased {
            license_id: LicenseId(Uuid::nil()),
        },
        UserEvent::CustomersAssigned { customers: vec![] },
        UserEvent::NotificationPreferencesChanged {
            preferences: Preferences {
                frequency: crate::domain::notification::Frequency::Weekly,
                categories: Default::default(),
            },
        },
        UserEvent::LocationChallenged {
            ip: "203.0.113.1".into(),
            code_hash: String::new(),
            expires_at: DateTime::<Utc>::MIN_UTC,
        },
        UserEvent::TrustedLocationAdded {
            ip: "203.0.113.1".into(),
        },
        UserEvent::TrustedLocationRemoved {
            ip: "203.0.113.1".into(),
        },
    ];
    let types: Vec<&str> = all.iter().map(UserEvent::event_type).collect();
    assert_eq!(types, UserEvent::TYPES);
    for event in &all {
        assert_eq!(
            serde_json::to_value(event).unwrap()["type"],
            event.event_type()
        );
    }
}

#[test]
fn changing_the_address_moves_the_claim() {
    let mut acme = account();
    let owner = create(&mut acme, 10, Role::Admin);
    let user = create(&mut acme, 20, Role::Regular);
    let new = Email::parse("new@example.com").unwrap();
    let decision = decide_update_profile(
        &user,
        &acme,
        None,
        Some(&new),
        &EmailClaim::default(),
        None,
        user.user_id,
    )
    .unwrap();
    assert_eq!(decision.email.len(), 2);
    assert_eq!(decision.user.last(), Some(&UserEvent::SessionsRevoked));
    assert!(matches!(decision.email[0].1, EmailEvent::Released { .. }));
    assert!(matches!(decision.email[1].1, EmailEvent::Claimed { .. }));
    // By an admin: the address moves, the user's sessions stay.
    let decision = decide_update_profile(
        &user,
        &acme,
        None,
        Some(&new),
        &EmailClaim::default(),
        None,
        owner.user_id,
    )
    .unwrap();
    assert_eq!(decision.user.len(), 1);
    let same = user.email.clone().unwrap();
    assert_eq!(
        decide_update_profile(
            &user,
            &acme,
            Some("User 20"),
            Some(&same),
            &EmailClaim::default(),
            None,
            owner.user_id
        ),
        Err(DomainError::NoChange)
    );
    let recased = Email::parse("U20@EXAMPLE.com").unwrap();
    let decision = decide_update_profile(
        &user,
        &acme,
        None,
        Some(&recased),
        &EmailClaim {
            holder: user.user_id,
        },
        None,
        owner.user_id,
    )
    .unwrap();
    assert!(decision.email.is_empty());
}

#[test]
fn only_the_owner_edits_resets_logs_out_or_assigns_the_owner() {
    let mut acme = account();
    let owner = create(&mut acme, 10, Role::Admin);
    let other_admin = create(&mut acme, 20, Role::Admin);
    let by_other = other_admin.user_id;
    let protected = Err(DomainError::OwnerProtected);
    let new = Email::parse("new@example.com").unwrap();
    let free = EmailClaim::default();
    let customer = [AccountId(Uuid::from_u128(7))];
    assert_eq!(
        decide_update_profile(&owner, &acme, Some("Boss"), None, &free, None, by_other),
        protected
    );
    assert_eq!(
        decide_update_profile(&owner, &acme, None, Some(&new), &free, None, by_other),
        protected
    );
    assert_eq!(decide_password_reset(&owner, &acme, by_other), protected);
    assert_eq!(decide_revoke_sessions(&owner, &acme, by_other), protected);
    assert_eq!(decide_revoke_sessions(&owner, &acme, None), protected);
    assert_eq!(
        decide_assign_customers(&owner, &acme, &customer, by_other),
        protected
    );
    assert_eq!(
        decide_trust_location(&owner, &acme, "198.51.100.7", by_other),
        protected
    );
    let trusted = UserState {
        trusted_locations: ["198.51.100.8".to_owned()].into_iter().collect(),
        ..owner.clone()
    };
    assert_eq!(
        decide_untrust_location(&trusted, &acme, "198.51.100.8", by_other),
        protected
    );
    assert!(decide_untrust_location(&trusted, &acme, "198.51.100.8", owner.user_id).is_ok());
    assert!(decide_trust_location(&other_admin, &acme, "198.51.100.7", owner.user_id).is_ok());
    // The owner themself may; the owner may do all of it to others.
    let me = owner.user_id;
    assert!(decide_update_profile(&owner, &acme, Some("Boss"), None, &free, None, me).is_ok());
    assert!(decide_password_reset(&owner, &acme, me).is_ok());
    assert!(decide_revoke_sessions(&owner, &acme, me).is_ok());
    assert!(decide_assign_customers(&owner, &acme, &customer, me).is_ok());
    assert!(decide_update_profile(&other_admin, &acme, Some("B"), None, &free, None, me).is_ok());
    assert!(decide_password_reset(&other_admin, &acme, me).is_ok());
    assert!(decide_revoke_sessions(&other_admin, &acme, me).is_ok());
    // A first password is set, not reset (bootstrap sets the owner's).
    assert!(decide_password_changed(&owner, true).is_ok());
}

#[test]
fn usernames_are_claimed_moved_released_and_restored_or_reported() {
    let acme = account();
    let ada = Username::parse("Ada").unwrap();
    let new = NewUser {
        user_id: UserId(Uuid::from_u128(5)),
        email: Email::parse("ada@example.com").unwrap(),
        name: "Ada".into(),
        role: Role::Regular,
        origin: Origin::Direct,
        invitation: None,
    };
    let taken = UsernameClaim {
        holder: Some(UserId(Uuid::from_u128(6))),
    };
    let free = UsernameClaim::default();
    assert_eq!(
        decide_create_with_username(
            &UserState::default(),
            &acme,
            &EmailClaim::default(),
            &new,
            Some((&ada, &taken))
        ),
        Err(DomainError::UsernameTaken)
    );
    let created = decide_create_with_username(
        &UserState::default(),
        &acme,
        &EmailClaim::default(),
        &new,
        Some((&ada, &free)),
    )
    .unwrap();
    assert_eq!(
        created.username,
        vec![(
            ada.clone(),
            UsernameEvent::Claimed {
                user_id: new.user_id
            }
        )]
    );
    let now = Utc::now();
    let user = created
        .user
        .iter()
        .fold(UserState::default(), |s, e| evolve(s, e, now));
    assert_eq!(user.username, Some(ada.clone()));

    // The same username (any case) is no change; another moves the claim.
    let same = Username::parse("ADA").unwrap();
    let actor = user.user_id;
    let none = EmailClaim::default();
    assert_eq!(
        decide_update_profile(&user, &acme, None, None, &none, Some((&same, &free)), actor),
        Err(DomainError::NoChange)
    );
    let lovelace = Username::parse("lovelace").unwrap();
    assert_eq!(
        decide_update_profile(
            &user,
            &acme,
            None,
            None,
            &none,
            Some((&lovelace, &taken)),
            actor
        ),
        Err(DomainError::UsernameTaken)
    );
    let moved = decide_update_profile(
        &user,
        &acme,
        None,
        None,
        &none,
        Some((&lovelace, &free)),
        actor,
    )
    .unwrap();
    assert_eq!(
        moved.username,
        vec![
            (
                ada.clone(),
                UsernameEvent::Released {
                    user_id: new.user_id
                }
            ),
            (
                lovelace.clone(),
                UsernameEvent::Claimed {
                    user_id: new.user_id
                }
            ),
        ]
    );
    assert!(moved.email.is_empty());

    // Deletion frees it; a restore takes it back, or reports it taken.
    let deleted = decide_delete(&user, &acme, &Licenses::new(), None).unwrap();
    assert_eq!(
        deleted.username,
        vec![(
            ada.clone(),
            UsernameEvent::Released {
                user_id: new.user_id
            }
        )]
    );
    let gone = deleted.user.iter().fold(user, |s, e| evolve(s, e, now));
    let retention = Duration::days(DEFAULT_RETENTION_DAYS);
    let restore = |claim: &UsernameClaim| {
        decide_restore_with_username(
            &gone,
            &acme,
            &EmailClaim::default(),
            claim,
            &Licenses::new(),
            Role::Regular,
            now,
            retention,
        )
        .unwrap()
    };
    let back = restore(&free);
    assert_eq!(back.username_not_restored, None);
    assert_eq!(
        back.username,
        vec![(
            ada.clone(),
            UsernameEvent::Claimed {
                user_id: new.user_id
            }
        )]
    );
    let without = restore(&taken);
    assert_eq!(without.username_not_restored, Some(ada));
    assert!(without.username.is_empty());
    let state = without.user.iter().fold(gone, |s, e| evolve(s, e, now));
    assert_eq!(state.username, None);
}
