//! Service accounts: how a machine (a portal back end, a script) acts in an
//! account without signing in as a person.
//!
//! A service account belongs to one account and holds one of the account's
//! roles — the same roles and the same permission matrix as people, and on
//! a partner the same optional limit to some customers — so "what may this
//! integration do" is answered exactly like "what may this person do".
//! It never has a password or a session: it acts through API keys, each
//! shown once when issued and stored here only as the SHA-256 of its
//! secret, optionally expiring, revocable one by one. Deactivating the
//! service account ends all of its keys; its history stays.
//!
//! Everything about a service account and its keys is one stream, so
//! "may this key act now" is one read (`ServiceAccountState::admits`), and
//! a revocation takes effect on the very next request.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, ApiKeyId, ServiceAccountId};
use crate::domain::role::{AccountKind, Role};
use crate::domain::text::{self, Lines};
use crate::domain::DomainError;

/// Longest name of a service account or a key, in characters.
pub const MAX_NAME: usize = 100;
/// Keys a service account may hold at once (neither revoked nor expired):
/// enough to rotate without downtime, few enough to keep track of.
pub const MAX_LIVE_KEYS: usize = 10;

/// What happened to a service account; schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ServiceAccountEvent {
    #[serde(rename = "service_account.created")]
    Created {
        service_account_id: ServiceAccountId,
        account_id: AccountId,
        name: String,
        role: Role,
        /// On a partner: the customers it works for (empty: all of them).
        customers: Vec<AccountId>,
    },
    /// A new name, role or customer limit (absent: unchanged).
    #[serde(rename = "service_account.changed")]
    Changed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<Role>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customers: Option<Vec<AccountId>>,
    },
    /// Every key stops working; the history stays.
    #[serde(rename = "service_account.deactivated")]
    Deactivated,
    /// A key was issued; only the SHA-256 of its secret is kept.
    #[serde(rename = "service_account.key_issued")]
    KeyIssued {
        key_id: ApiKeyId,
        name: String,
        key_hash: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
    },
    #[serde(rename = "service_account.key_revoked")]
    KeyRevoked { key_id: ApiKeyId },
}

impl ServiceAccountEvent {
    pub const TYPES: [&'static str; 5] = [
        "service_account.created",
        "service_account.changed",
        "service_account.deactivated",
        "service_account.key_issued",
        "service_account.key_revoked",
    ];
}

/// One key as its events made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub name: String,
    pub key_hash: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where a key stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl ApiKey {
    /// Revoked wins over expired: it is what someone did.
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        match (self.revoked_at, self.expires_at) {
            (Some(_), _) => KeyStatus::Revoked,
            (None, Some(end)) if end <= now => KeyStatus::Expired,
            _ => KeyStatus::Active,
        }
    }
}

/// A service account as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceAccountState {
    pub service_account_id: Option<ServiceAccountId>,
    pub account_id: Option<AccountId>,
    pub name: String,
    pub role: Option<Role>,
    /// Customers it works for on a partner (empty: all).
    pub customers: BTreeSet<AccountId>,
    pub created_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub keys: BTreeMap<ApiKeyId, ApiKey>,
}

/// Why a key does not let its holder in. Told only to a holder whose
/// secret matched, so it reveals nothing to a guesser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No such service account or key, or the secret does not match.
    Unknown,
    Expired,
    /// The key, or its whole service account, was revoked.
    Revoked,
}

impl ServiceAccountState {
    /// The account and role of an active service account.
    pub fn active(&self) -> Result<(AccountId, Role), DomainError> {
        match (self.account_id, self.role, self.deactivated_at) {
            (Some(account), Some(role), None) => Ok((account, role)),
            (Some(_), Some(_), Some(_)) => Err(DomainError::ServiceAccountDeactivated),
            _ => Err(DomainError::NotFound),
        }
    }

    /// Whether `key` may act for this service account at `now`, given that
    /// its holder's secret hashed to `matches` (checked by the caller in
    /// constant time against [`ApiKey::key_hash`]).
    pub fn admits(
        &self,
        key: ApiKeyId,
        now: DateTime<Utc>,
        matches: impl Fn(&str) -> bool,
    ) -> Result<(AccountId, Role), KeyRefusal> {
        let stored = self.keys.get(&key).ok_or(KeyRefusal::Unknown)?;
        if !matches(&stored.key_hash) {
            return Err(KeyRefusal::Unknown);
        }
        let (account, role) = self.active().map_err(|_| KeyRefusal::Revoked)?;
        match stored.status(now) {
            KeyStatus::Active => Ok((account, role)),
            KeyStatus::Expired => Err(KeyRefusal::Expired),
            KeyStatus::Revoked => Err(KeyRefusal::Revoked),
        }
    }

    /// Whether it may work for `customer` (of its partner): limited to it,
    /// or to none (then all of the partner's customers) — the rule for a
    /// partner's staff (`user::works_for`).
    pub fn works_for(&self, customer: AccountId) -> bool {
        self.customers.is_empty() || self.customers.contains(&customer)
    }

    fn live_keys(&self, now: DateTime<Utc>) -> usize {
        self.keys
            .values()
            .filter(|k| k.status(now) == KeyStatus::Active)
            .count()
    }
}

pub fn evolve(
    mut state: ServiceAccountState,
    event: &ServiceAccountEvent,
    at: DateTime<Utc>,
) -> ServiceAccountState {
    match event {
        ServiceAccountEvent::Created {
            service_account_id,
            account_id,
            name,
            role,
            customers,
        } => {
            state.service_account_id = Some(*service_account_id);
            state.account_id = Some(*account_id);
            state.name = name.clone();
            state.role = Some(*role);
            state.customers = customers.iter().copied().collect();
            state.created_at = Some(at);
        }
        ServiceAccountEvent::Changed {
            name,
            role,
            customers,
        } => {
            if let Some(name) = name {
                state.name = name.clone();
            }
            if let Some(role) = role {
                state.role = Some(*role);
            }
            if let Some(customers) = customers {
                state.customers = customers.iter().copied().collect();
            }
        }
        ServiceAccountEvent::Deactivated => state.deactivated_at = Some(at),
        ServiceAccountEvent::KeyIssued {
            key_id,
            name,
            key_hash,
            expires_at,
        } => {
            state.keys.insert(
                *key_id,
                ApiKey {
                    name: name.clone(),
                    key_hash: key_hash.clone(),
                    issued_at: at,
                    expires_at: *expires_at,
                    revoked_at: None,
                },
            );
        }
        ServiceAccountEvent::KeyRevoked { key_id } => {
            if let Some(key) = state.keys.get_mut(key_id) {
                key.revoked_at.get_or_insert(at);
            }
        }
    }
    state
}

/// A service account's or a key's name: one line, 1 to [`MAX_NAME`]
/// characters.
pub fn parse_name(raw: &str) -> Result<String, DomainError> {
    text::parse(raw, MAX_NAME, Lines::One, DomainError::InvalidName)
}

/// The role, checked against the account's kind, and the customer limit,
/// which only a partner has (each customer checked by the caller, who can
/// read them: `customers_are_its_own`).
fn check_role_and_customers(
    kind: AccountKind,
    role: Role,
    customers: &[AccountId],
) -> Result<(), DomainError> {
    if !role.exists_in(kind) {
        return Err(crate::domain::role::RoleError::NotInAccountKind { role, kind }.into());
    }
    if !role.can_sign_in() {
        // A notifications-only role receives e-mail and acts on nothing.
        return Err(DomainError::RoleCannotAct);
    }
    if !customers.is_empty() && kind != AccountKind::Partner {
        return Err(DomainError::NotACustomer);
    }
    Ok(())
}

pub fn decide_create(
    state: &ServiceAccountState,
    service_account_id: ServiceAccountId,
    account_id: AccountId,
    kind: AccountKind,
    name: &str,
    role: Role,
    customers: &[AccountId],
) -> Result<Vec<ServiceAccountEvent>, DomainError> {
    if state.service_account_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    check_role_and_customers(kind, role, customers)?;
    Ok(vec![ServiceAccountEvent::Created {
        service_account_id,
        account_id,
        name: parse_name(name)?,
        role,
        customers: customers
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    }])
}

/// What a change asks for (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ChangeRequest<'a> {
    pub name: Option<&'a str>,
    pub role: Option<Role>,
    pub customers: Option<&'a [AccountId]>,
}

pub fn decide_change(
    state: &ServiceAccountState,
    kind: AccountKind,
    change: ChangeRequest<'_>,
) -> Result<Vec<ServiceAccountEvent>, DomainError> {
    let (_, current_role) = state.active()?;
    let name = change
        .name
        .map(parse_name)
        .transpose()?
        .filter(|n| *n != state.name);
    let role = change.role.filter(|r| *r != current_role);
    let customers: Option<BTreeSet<AccountId>> = change
        .customers
        .map(|c| c.iter().copied().collect())
        .filter(|c: &BTreeSet<AccountId>| *c != state.customers);
    let listed: Vec<AccountId> = customers.iter().flatten().copied().collect();
    check_role_and_customers(kind, role.unwrap_or(current_role), &listed)?;
    if name.is_none() && role.is_none() && customers.is_none() {
        return Err(DomainError::NoChange);
    }
    Ok(vec![ServiceAccountEvent::Changed {
        name,
        role,
        customers: customers.map(|c| c.into_iter().collect()),
    }])
}

pub fn decide_deactivate(
    state: &ServiceAccountState,
) -> Result<Vec<ServiceAccountEvent>, DomainError> {
    state.active()?;
    Ok(vec![ServiceAccountEvent::Deactivated])
}

/// A new key whose secret hashes to `key_hash`; its end, if any, lies
/// ahead of `now`.
pub fn decide_issue_key(
    state: &ServiceAccountState,
    key_id: ApiKeyId,
    name: &str,
    key_hash: String,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Vec<ServiceAccountEvent>, DomainError> {
    state.active()?;
    if expires_at.is_some_and(|end| end <= now) {
        return Err(DomainError::InvalidKeyExpiry);
    }
    if state.keys.contains_key(&key_id) {
        return Err(DomainError::AlreadyExists);
    }
    if state.live_keys(now) >= MAX_LIVE_KEYS {
        return Err(DomainError::TooManyKeys { max: MAX_LIVE_KEYS });
    }
    Ok(vec![ServiceAccountEvent::KeyIssued {
        key_id,
        name: parse_name(name)?,
        key_hash,
        expires_at,
    }])
}

pub fn decide_revoke_key(
    state: &ServiceAccountState,
    key_id: ApiKeyId,
) -> Result<Vec<ServiceAccountEvent>, DomainError> {
    state.active()?;
    let key = state.keys.get(&key_id).ok_or(DomainError::NotFound)?;
    if key.revoked_at.is_some() {
        return Err(DomainError::KeyRevoked);
    }
    Ok(vec![ServiceAccountEvent::KeyRevoked { key_id }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use uuid::Uuid;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn fold(
        state: ServiceAccountState,
        events: Vec<ServiceAccountEvent>,
        at: DateTime<Utc>,
    ) -> ServiceAccountState {
        events.iter().fold(state, |s, e| evolve(s, e, at))
    }

    fn created(kind: AccountKind, role: Role, now: DateTime<Utc>) -> ServiceAccountState {
        let events = decide_create(
            &ServiceAccountState::default(),
            ServiceAccountId(id(1)),
            AccountId(id(2)),
            kind,
            " Billing sync ",
            role,
            &[],
        )
        .unwrap();
        fold(ServiceAccountState::default(), events, now)
    }

    #[test]
    fn roles_and_customer_limits_follow_the_account_kind() {
        let none = ServiceAccountState::default();
        let create = |kind, role, customers: &[AccountId]| {
            decide_create(
                &none,
                ServiceAccountId(id(1)),
                AccountId(id(2)),
                kind,
                "sync",
                role,
                customers,
            )
        };
        assert!(create(AccountKind::Partner, Role::Sales, &[AccountId(id(3))]).is_ok());
        assert!(matches!(
            create(AccountKind::Organization, Role::Sales, &[]),
            Err(DomainError::Role(_))
        ));
        assert_eq!(
            create(AccountKind::Organization, Role::Admin, &[AccountId(id(3))]),
            Err(DomainError::NotACustomer)
        );
        assert_eq!(
            create(AccountKind::Organization, Role::Notifications, &[]),
            Err(DomainError::RoleCannotAct)
        );
        assert_eq!(
            create(AccountKind::Organization, Role::Admin, &[]).map(|e| e.len()),
            Ok(1)
        );
    }

    #[test]
    fn a_key_admits_until_it_expires_or_is_revoked() {
        let now = Utc::now();
        let state = created(AccountKind::Organization, Role::Regular, now);
        assert_eq!(state.name, "Billing sync");
        let key = ApiKeyId(id(10));
        let issued = decide_issue_key(
            &state,
            key,
            "ci",
            "h".into(),
            Some(now + Duration::days(1)),
            now,
        )
        .unwrap();
        let state = fold(state, issued, now);
        let ok = |h: &str| h == "h";
        assert!(state.admits(key, now, ok).is_ok());
        assert_eq!(
            state.admits(key, now, |h| h == "other"),
            Err(KeyRefusal::Unknown)
        );
        assert_eq!(
            state.admits(ApiKeyId(id(11)), now, ok),
            Err(KeyRefusal::Unknown)
        );
        assert_eq!(
            state.admits(key, now + Duration::days(2), ok),
            Err(KeyRefusal::Expired)
        );
        let revoked = fold(state.clone(), decide_revoke_key(&state, key).unwrap(), now);
        assert_eq!(revoked.admits(key, now, ok), Err(KeyRefusal::Revoked));
        assert_eq!(
            decide_revoke_key(&revoked, key),
            Err(DomainError::KeyRevoked)
        );
        let gone = fold(state.clone(), decide_deactivate(&state).unwrap(), now);
        assert_eq!(gone.admits(key, now, ok), Err(KeyRefusal::Revoked));
        assert_eq!(
            decide_issue_key(&gone, ApiKeyId(id(12)), "x", "h".into(), None, now),
            Err(DomainError::ServiceAccountDeactivated)
        );
    }

    #[test]
    fn keys_end_in_the_future_and_are_capped() {
        let now = Utc::now();
        let mut state = created(AccountKind::Organization, Role::Regular, now);
        assert_eq!(
            decide_issue_key(&state, ApiKeyId(id(1)), "k", "h".into(), Some(now), now),
            Err(DomainError::InvalidKeyExpiry)
        );
        for n in 0..MAX_LIVE_KEYS as u128 {
            let events =
                decide_issue_key(&state, ApiKeyId(id(100 + n)), "k", "h".into(), None, now)
                    .unwrap();
            state = fold(state, events, now);
        }
        assert_eq!(
            decide_issue_key(&state, ApiKeyId(id(1)), "k", "h".into(), None, now),
            Err(DomainError::TooManyKeys { max: MAX_LIVE_KEYS })
        );
        let revoked = decide_revoke_key(&state, ApiKeyId(id(100))).unwrap();
        let state = fold(state, revoked, now);
        assert!(decide_issue_key(&state, ApiKeyId(id(1)), "k", "h".into(), None, now).is_ok());
    }

    #[test]
    fn a_change_names_only_what_changes() {
        let now = Utc::now();
        let state = created(AccountKind::Partner, Role::Sales, now);
        assert_eq!(
            decide_change(
                &state,
                AccountKind::Partner,
                ChangeRequest {
                    name: Some("Billing sync"),
                    role: Some(Role::Sales),
                    customers: Some(&[]),
                }
            ),
            Err(DomainError::NoChange)
        );
        let events = decide_change(
            &state,
            AccountKind::Partner,
            ChangeRequest {
                role: Some(Role::Admin),
                customers: Some(&[AccountId(id(7))]),
                ..ChangeRequest::default()
            },
        )
        .unwrap();
        let state = fold(state, events, now);
        assert_eq!(state.role, Some(Role::Admin));
        assert!(state.works_for(AccountId(id(7))));
        assert!(!state.works_for(AccountId(id(8))));
    }
}
