//! Accounts (platform, partners, organizations): the tenant aggregate.
//!
//! The account's stream is also the consistency boundary for its admins:
//! it holds the set of active admins and the primary admin (owner), so "an
//! account always keeps at least one active admin" and "the owner cannot be
//! demoted or deleted by others" are checked on state that every competing
//! command must append to.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, UserId};
use crate::domain::role::AccountKind;
use crate::domain::text::{self, Lines};
use crate::domain::DomainError;

/// What happened to an account. Serialized as the event payload with
/// `type` naming the event (`account.created` …); schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum AccountEvent {
    /// A tenant came to be. `parent` is the partner that owns an
    /// organization (none for the platform, partners, and organizations the
    /// platform created directly).
    #[serde(rename = "account.created")]
    Created {
        account_id: AccountId,
        kind: AccountKind,
        name: String,
        parent: Option<AccountId>,
    },
    #[serde(rename = "account.renamed")]
    Renamed { name: String },
    #[serde(rename = "account.deleted")]
    Deleted,
    /// A user became an active admin of the account; the first one becomes
    /// its primary admin.
    #[serde(rename = "account.admin_added")]
    AdminAdded { user_id: UserId },
    /// A user stopped being an active admin (demoted, deleted, purged).
    #[serde(rename = "account.admin_removed")]
    AdminRemoved { user_id: UserId },
    #[serde(rename = "account.ownership_transferred")]
    OwnershipTransferred { from: UserId, to: UserId },
}

impl AccountEvent {
    /// Every event type of this aggregate.
    pub const TYPES: [&'static str; 6] = [
        "account.created",
        "account.renamed",
        "account.deleted",
        "account.admin_added",
        "account.admin_removed",
        "account.ownership_transferred",
    ];

    pub fn event_type(&self) -> &'static str {
        match self {
            AccountEvent::Created { .. } => "account.created",
            AccountEvent::Renamed { .. } => "account.renamed",
            AccountEvent::Deleted => "account.deleted",
            AccountEvent::AdminAdded { .. } => "account.admin_added",
            AccountEvent::AdminRemoved { .. } => "account.admin_removed",
            AccountEvent::OwnershipTransferred { .. } => "account.ownership_transferred",
        }
    }
}

/// An account as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountState {
    pub account_id: Option<AccountId>,
    pub kind: Option<AccountKind>,
    pub name: String,
    pub parent: Option<AccountId>,
    pub deleted: bool,
    pub primary_admin: Option<UserId>,
    pub admins: BTreeSet<UserId>,
}

impl AccountState {
    pub fn exists(&self) -> bool {
        self.account_id.is_some() && !self.deleted
    }

    /// The account's kind, or `AccountNotFound` if there is no such account.
    pub fn live_kind(&self) -> Result<AccountKind, DomainError> {
        match self.kind {
            Some(kind) if !self.deleted => Ok(kind),
            _ => Err(DomainError::AccountNotFound),
        }
    }

    /// Whether `parent` owns this account (it is one of its customers).
    pub fn is_customer_of(&self, partner: AccountId) -> bool {
        self.parent == Some(partner)
    }
}

pub fn evolve(mut state: AccountState, event: &AccountEvent) -> AccountState {
    match event {
        AccountEvent::Created {
            account_id,
            kind,
            name,
            parent,
        } => {
            state.account_id = Some(*account_id);
            state.kind = Some(*kind);
            state.name = name.clone();
            state.parent = *parent;
        }
        AccountEvent::Renamed { name } => state.name = name.clone(),
        AccountEvent::Deleted => state.deleted = true,
        AccountEvent::AdminAdded { user_id } => {
            state.admins.insert(*user_id);
            state.primary_admin.get_or_insert(*user_id);
        }
        AccountEvent::AdminRemoved { user_id } => {
            state.admins.remove(user_id);
        }
        AccountEvent::OwnershipTransferred { to, .. } => state.primary_admin = Some(*to),
    }
    state
}

/// Account names: trimmed, 1 to 200 characters.
pub fn parse_name(name: &str) -> Result<String, DomainError> {
    text::parse(name, 200, Lines::One, DomainError::InvalidName)
}

/// Creating an account: only once per id.
pub fn decide_create(
    state: &AccountState,
    account_id: AccountId,
    kind: AccountKind,
    name: &str,
    parent: Option<AccountId>,
) -> Result<Vec<AccountEvent>, DomainError> {
    if state.account_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    Ok(vec![AccountEvent::Created {
        account_id,
        kind,
        name: parse_name(name)?,
        parent,
    }])
}

/// Which kind of account may own a new account of `kind`: the platform
/// owns partners and organizations, a partner its organizations — nothing
/// else (an organization has no customers, and only the platform brings in
/// partners).
pub fn check_parent(parent: AccountKind, kind: AccountKind) -> Result<(), DomainError> {
    match (parent, kind) {
        (AccountKind::Platform, AccountKind::Partner | AccountKind::Organization)
        | (AccountKind::Partner, AccountKind::Organization) => Ok(()),
        _ => Err(DomainError::InvalidTenantInvitation),
    }
}

/// Renaming an account.
pub fn decide_rename(state: &AccountState, name: &str) -> Result<Vec<AccountEvent>, DomainError> {
    state.live_kind()?;
    let name = parse_name(name)?;
    if name == state.name {
        return Err(DomainError::NoChange);
    }
    Ok(vec![AccountEvent::Renamed { name }])
}

/// Deleting an organization or a partner (the platform stays). Its users
/// can no longer sign in; its history stays in the log.
pub fn decide_delete(state: &AccountState) -> Result<Vec<AccountEvent>, DomainError> {
    if state.live_kind()? == AccountKind::Platform {
        return Err(DomainError::PlatformIsPermanent);
    }
    Ok(vec![AccountEvent::Deleted])
}

/// The account-side events of a user gaining or losing admin rights, with
/// the invariants checked: the account keeps an active admin, and only the
/// owner themself can give up ownership (by transferring it).
pub fn admin_change(
    state: &AccountState,
    user: UserId,
    was_admin: bool,
    is_admin: bool,
    actor: Option<UserId>,
) -> Result<Vec<AccountEvent>, DomainError> {
    match (was_admin, is_admin) {
        (false, true) => Ok(vec![AccountEvent::AdminAdded { user_id: user }]),
        (true, false) => {
            if state.primary_admin == Some(user) {
                return Err(if actor == Some(user) {
                    DomainError::OwnerMustTransferFirst
                } else {
                    DomainError::OwnerProtected
                });
            }
            if state.admins.len() <= 1 && state.admins.contains(&user) {
                return Err(DomainError::LastAdmin);
            }
            Ok(vec![AccountEvent::AdminRemoved { user_id: user }])
        }
        _ => Ok(vec![]),
    }
}

/// Editing a user who may be the owner: the primary admin is edited only by
/// themself. Another admin's (or the system's) profile edit, password
/// reset, force logout or customer assignment of the owner is refused like
/// a demotion would be (PRODUCT.md: "cannot be edited, demoted or deleted
/// by other admins"); ownership must move first.
pub fn check_owner_edit(
    state: &AccountState,
    target: UserId,
    actor: Option<UserId>,
) -> Result<(), DomainError> {
    if state.primary_admin == Some(target) && actor != Some(target) {
        return Err(DomainError::OwnerProtected);
    }
    Ok(())
}

/// Transferring ownership: only the owner, only to another active admin.
pub fn decide_transfer_ownership(
    state: &AccountState,
    actor: UserId,
    to: UserId,
) -> Result<Vec<AccountEvent>, DomainError> {
    if state.primary_admin != Some(actor) {
        return Err(DomainError::OnlyOwnerTransfers);
    }
    if !state.admins.contains(&to) || to == actor {
        return Err(DomainError::TransferTargetNotAdmin);
    }
    Ok(vec![AccountEvent::OwnershipTransferred { from: actor, to }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn fold(events: &[AccountEvent]) -> AccountState {
        events.iter().fold(AccountState::default(), evolve)
    }

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn account_with_admins(admins: &[UserId]) -> AccountState {
        let mut events = decide_create(
            &AccountState::default(),
            AccountId(Uuid::from_u128(9)),
            AccountKind::Organization,
            " Acme ",
            None,
        )
        .unwrap();
        events.extend(
            admins
                .iter()
                .map(|u| AccountEvent::AdminAdded { user_id: *u }),
        );
        fold(&events)
    }

    #[test]
    fn the_first_admin_owns_the_account() {
        let state = account_with_admins(&[user(1), user(2)]);
        assert_eq!(state.name, "Acme");
        assert_eq!(state.primary_admin, Some(user(1)));
        assert_eq!(state.admins.len(), 2);
    }

    #[test]
    fn the_last_admin_cannot_go() {
        let state = account_with_admins(&[user(1), user(2)]);
        let events = admin_change(&state, user(2), true, false, Some(user(1))).unwrap();
        let state = events.iter().fold(state, evolve);
        assert_eq!(
            admin_change(&state, user(1), true, false, Some(user(1))),
            Err(DomainError::OwnerMustTransferFirst)
        );
        let solo = account_with_admins(&[user(3)]);
        let mut no_owner = solo.clone();
        no_owner.primary_admin = None;
        assert_eq!(
            admin_change(&no_owner, user(3), true, false, None),
            Err(DomainError::LastAdmin)
        );
    }

    #[test]
    fn the_owner_is_protected_until_ownership_moves() {
        let state = account_with_admins(&[user(1), user(2)]);
        assert_eq!(
            admin_change(&state, user(1), true, false, Some(user(2))),
            Err(DomainError::OwnerProtected)
        );
        assert_eq!(
            decide_transfer_ownership(&state, user(2), user(1)),
            Err(DomainError::OnlyOwnerTransfers)
        );
        let moved = decide_transfer_ownership(&state, user(1), user(2)).unwrap();
        let state = moved.iter().fold(state, evolve);
        assert_eq!(state.primary_admin, Some(user(2)));
        assert!(admin_change(&state, user(1), true, false, Some(user(2))).is_ok());
    }

    #[test]
    fn only_the_owner_edits_the_owner() {
        let state = account_with_admins(&[user(1), user(2)]);
        assert_eq!(
            check_owner_edit(&state, user(1), Some(user(2))),
            Err(DomainError::OwnerProtected)
        );
        assert_eq!(
            check_owner_edit(&state, user(1), None),
            Err(DomainError::OwnerProtected)
        );
        assert_eq!(check_owner_edit(&state, user(1), Some(user(1))), Ok(()));
        assert_eq!(check_owner_edit(&state, user(2), Some(user(1))), Ok(()));
        let moved = decide_transfer_ownership(&state, user(1), user(2)).unwrap();
        let state = moved.iter().fold(state, evolve);
        assert_eq!(check_owner_edit(&state, user(1), Some(user(2))), Ok(()));
        assert_eq!(
            check_owner_edit(&state, user(2), Some(user(1))),
            Err(DomainError::OwnerProtected)
        );
    }

    #[test]
    fn accounts_are_renamed_and_deleted_but_not_the_platform() {
        let state = account_with_admins(&[user(1)]);
        let renamed = decide_rename(&state, "Acme Corp")
            .unwrap()
            .iter()
            .fold(state.clone(), evolve);
        assert_eq!(renamed.name, "Acme Corp");
        assert_eq!(
            decide_rename(&renamed, " Acme Corp "),
            Err(DomainError::NoChange)
        );
        let deleted = decide_delete(&renamed)
            .unwrap()
            .iter()
            .fold(renamed, evolve);
        assert!(!deleted.exists());
        assert_eq!(decide_delete(&deleted), Err(DomainError::AccountNotFound));
        let platform = decide_create(
            &AccountState::default(),
            AccountId(Uuid::nil()),
            AccountKind::Platform,
            "P",
            None,
        )
        .unwrap()
        .iter()
        .fold(AccountState::default(), evolve);
        assert_eq!(
            decide_delete(&platform),
            Err(DomainError::PlatformIsPermanent)
        );
    }

    #[test]
    fn only_the_platform_owns_partners_and_organizations_belong_to_partners_or_it() {
        use AccountKind::*;
        for (parent, kind, allowed) in [
            (Platform, Partner, true),
            (Platform, Organization, true),
            (Partner, Organization, true),
            (Partner, Partner, false),
            (Organization, Organization, false),
            (Organization, Partner, false),
            (Platform, Platform, false),
            (Partner, Platform, false),
        ] {
            assert_eq!(
                check_parent(parent, kind).is_ok(),
                allowed,
                "{parent:?} owning {kind:?}"
            );
        }
    }

    #[test]
    fn the_type_list_names_every_variant() {
        let all = [
            AccountEvent::Created {
                account_id: AccountId(Uuid::nil()),
                kind: AccountKind::Partner,
                name: "P".into(),
                parent: None,
            },
            AccountEvent::Renamed { name: "Q".into() },
            AccountEvent::Deleted,
            AccountEvent::AdminAdded { user_id: user(1) },
            AccountEvent::AdminRemoved { user_id: user(1) },
            AccountEvent::OwnershipTransferred {
                from: user(1),
                to: user(2),
            },
        ];
        let types: Vec<&str> = all.iter().map(AccountEvent::event_type).collect();
        assert_eq!(types, AccountEvent::TYPES);
        for event in &all {
            assert_eq!(
                serde_json::to_value(event).unwrap()["type"],
                event.event_type()
            );
        }
    }

    #[test]
    fn events_round_trip_through_json_with_their_type() {
        let event = AccountEvent::AdminAdded { user_id: user(1) };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], event.event_type());
        assert_eq!(serde_json::from_value::<AccountEvent>(json).unwrap(), event);
    }
}
