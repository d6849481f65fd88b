//! Users: a login that belongs to one account, and the e-mail claims that
//! keep addresses unique.
//!
//! A user command touches up to four kinds of streams — the user's, its
//! account's (when admin rights change), an `email-…` claim (when an address
//! is taken or given back) and a `username-…` claim (likewise for the
//! optional username) — and [`Decision`] carries the events for each, to be
//! appended atomically with the versions the states were read at.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::account::{self, AccountEvent, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, InvitationId, LicenseId, UserId};
use crate::domain::license::{self, LicenseEvent, LicenseState, ReleaseReason};
use crate::domain::notification::Preferences;
use crate::domain::role::Role;
use crate::domain::username::Username;
use crate::domain::DomainError;

/// Default time a deleted user can be restored before being purged.
pub const DEFAULT_RETENTION_DAYS: i64 = 30;

/// How a user came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `portal-ledger bootstrap`: the platform's first admin.
    Bootstrap,
    /// Created directly by an admin, with a password.
    Direct,
    /// Accepted an invitation.
    Invitation,
    /// Bulk CSV import.
    Import,
}

/// What happened to a user; schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum UserEvent {
    #[serde(rename = "user.created")]
    Created {
        user_id: UserId,
        account_id: AccountId,
        email: Email,
        name: String,
        role: Role,
        origin: Origin,
        /// The invitation the user signed up through.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invitation_id: Option<InvitationId>,
        /// The optional username (absent in events before usernames).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<Username>,
    },
    #[serde(rename = "user.role_changed")]
    RoleChanged { from: Role, to: Role },
    #[serde(rename = "user.profile_updated")]
    ProfileUpdated {
        name: Option<String>,
        email: Option<Email>,
        /// A new username (absent: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<Username>,
    },
    /// Soft delete: sessions end, seats are released, history stays; the
    /// role is kept so a restore can bring it back.
    #[serde(rename = "user.deleted")]
    Deleted {
        role: Role,
        /// Licenses the user held (their seats are released with this
        /// event); a restore tries to assign them again.
        #[serde(default)]
        licenses: Vec<LicenseId>,
    },
    #[serde(rename = "user.restored")]
    Restored {
        role: Role,
        /// The user's username was claimed by another user meanwhile: the
        /// user comes back without one (the restore's answer says so).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        without_username: bool,
    },
    /// After the retention period: personal data becomes unreadable (the
    /// keys of the user and of the invitation they signed up through are
    /// destroyed; see `crate::privacy`).
    #[serde(rename = "user.purged")]
    Purged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invitation_id: Option<InvitationId>,
    },
    /// Every session opened before this event ends (force logout, own
    /// password or e-mail change, deletion).
    #[serde(rename = "user.sessions_revoked")]
    SessionsRevoked,
    /// The password was set or changed; the secret itself is kept outside
    /// the log. `temporary` when an admin reset it.
    #[serde(rename = "user.password_changed")]
    PasswordChanged { temporary: bool },
    #[serde(rename = "user.license_assigned")]
    LicenseAssigned { license_id: LicenseId },
    #[serde(rename = "user.license_released")]
    LicenseReleased { license_id: LicenseId },
    /// The customers a partner's staff member works for (all of the
    /// partner's customers when the list is empty).
    #[serde(rename = "user.customers_assigned")]
    CustomersAssigned { customers: Vec<AccountId> },
    /// Digest settings (see `domain::notification`); no categories means
    /// no digests.
    #[serde(rename = "user.notification_preferences_changed")]
    NotificationPreferencesChanged { preferences: Preferences },
    /// A sign-in from an address outside the trusted locations (IP-based
    /// 2FA): a single-use code was e-mailed; only its SHA-256 is here.
    #[serde(rename = "user.location_challenged")]
    LocationChallenged {
        ip: String,
        code_hash: String,
        expires_at: DateTime<Utc>,
    },
    /// A trusted login location (an IP address) was added: by passing a
    /// challenge, or by the user or an admin.
    #[serde(rename = "user.trusted_location_added")]
    TrustedLocationAdded { ip: String },
    #[serde(rename = "user.trusted_location_removed")]
    TrustedLocationRemoved { ip: String },
}

impl UserEvent {
    /// Every event type of this aggregate.
    pub const TYPES: [&'static str; 15] = [
        "user.created",
        "user.role_changed",
        "user.profile_updated",
        "user.deleted",
        "user.restored",
        "user.purged",
        "user.sessions_revoked",
        "user.password_changed",
        "user.license_assigned",
        "user.license_released",
        "user.customers_assigned",
        "user.notification_preferences_changed",
        "user.location_challenged",
        "user.trusted_location_added",
        "user.trusted_location_removed",
    ];

    pub fn event_type(&self) -> &'static str {
        match self {
            UserEvent::Created { .. } => "user.created",
            UserEvent::RoleChanged { .. } => "user.role_changed",
            UserEvent::ProfileUpdated { .. } => "user.profile_updated",
            UserEvent::Deleted { .. } => "user.deleted",
            UserEvent::Restored { .. } => "user.restored",
            UserEvent::Purged { .. } => "user.purged",
            UserEvent::SessionsRevoked => "user.sessions_revoked",
            UserEvent::PasswordChanged { .. } => "user.password_changed",
            UserEvent::LicenseAssigned { .. } => "user.license_assigned",
            UserEvent::LicenseReleased { .. } => "user.license_released",
            UserEvent::CustomersAssigned { .. } => "user.customers_assigned",
            UserEvent::NotificationPreferencesChanged { .. } => {
                "user.notification_preferences_changed"
            }
            UserEvent::LocationChallenged { .. } => "user.location_challenged",
            UserEvent::TrustedLocationAdded { .. } => "user.trusted_location_added",
            UserEvent::TrustedLocationRemoved { .. } => "user.trusted_location_removed",
        }
    }
}

/// Who holds an e-mail address; schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum EmailEvent {
    #[serde(rename = "email.claimed")]
    Claimed { user_id: UserId },
    #[serde(rename = "email.released")]
    Released { user_id: UserId },
}

impl EmailEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            EmailEvent::Claimed { .. } => "email.claimed",
            EmailEvent::Released { .. } => "email.released",
        }
    }
}

/// Who holds a username (a `username-…` stream, like an address's);
/// schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum UsernameEvent {
    #[serde(rename = "username.claimed")]
    Claimed { user_id: UserId },
    #[serde(rename = "username.released")]
    Released { user_id: UserId },
}

impl UsernameEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            UsernameEvent::Claimed { .. } => "username.claimed",
            UsernameEvent::Released { .. } => "username.released",
        }
    }

    /// The same change as an address claim's, to fold with [`evolve_claim`].
    fn as_claim(&self) -> EmailEvent {
        match self {
            UsernameEvent::Claimed { user_id } => EmailEvent::Claimed { user_id: *user_id },
            UsernameEvent::Released { user_id } => EmailEvent::Released { user_id: *user_id },
        }
    }
}

/// The holder of one address (or one username: the same state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmailClaim {
    pub holder: Option<UserId>,
}

/// The holder of one username.
pub type UsernameClaim = EmailClaim;

pub fn evolve_username_claim(state: UsernameClaim, event: &UsernameEvent) -> UsernameClaim {
    evolve_claim(state, &event.as_claim())
}

pub fn evolve_claim(mut state: EmailClaim, event: &EmailEvent) -> EmailClaim {
    match event {
        EmailEvent::Claimed { user_id } => state.holder = Some(*user_id),
        EmailEvent::Released { user_id } if state.holder == Some(*user_id) => state.holder = None,
        EmailEvent::Released { .. } => {}
    }
    state
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Absent,
    Active,
    Deleted {
        at: DateTime<Utc>,
    },
    Purged,
}

/// A user as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserState {
    pub user_id: Option<UserId>,
    pub account_id: Option<AccountId>,
    pub email: Option<Email>,
    pub name: String,
    /// The optional username (kept while deleted, for a restore).
    pub username: Option<Username>,
    pub role: Option<Role>,
    pub status: Status,
    /// Sessions opened before this moment are no longer valid.
    pub sessions_revoked_at: Option<DateTime<Utc>>,
    /// Licenses the user holds a seat of.
    pub licenses: BTreeSet<LicenseId>,
    /// Licenses held when the user was deleted (for a restore).
    pub licenses_at_deletion: Vec<LicenseId>,
    /// Customers assigned to a partner's staff member (empty: all).
    pub assigned_customers: BTreeSet<AccountId>,
    /// The invitation the user signed up through.
    pub invitation_id: Option<InvitationId>,
    /// Digest settings; `None` until set (no digests).
    pub notifications: Option<Preferences>,
    /// Trusted login locations (canonical IP addresses); when there are
    /// any, a sign-in from elsewhere needs an e-mailed code.
    pub trusted_locations: BTreeSet<String>,
    /// The open challenge per address: code hash and expiry.
    pub location_challenges: BTreeMap<String, (String, DateTime<Utc>)>,
}

impl UserState {
    /// Whether a session opened at `opened_at` still stands for this user.
    pub fn accepts_session_opened_at(&self, opened_at: DateTime<Utc>) -> bool {
        self.status == Status::Active
            && self.role.is_some_and(Role::can_sign_in)
            && self
                .sessions_revoked_at
                .is_none_or(|revoked| opened_at > revoked)
    }

    /// The account and role of an active user.
    pub fn active(&self) -> Result<(AccountId, Role), DomainError> {
        self.live()
    }

    /// When a deleted user was deleted; an error for any other status.
    fn deleted_at(&self) -> Result<DateTime<Utc>, DomainError> {
        match self.status {
            Status::Deleted { at } => Ok(at),
            Status::Purged => Err(DomainError::UserPurged),
            Status::Absent => Err(DomainError::UserNotFound),
            Status::Active => Err(DomainError::UserNotDeleted),
        }
    }

    fn live(&self) -> Result<(AccountId, Role), DomainError> {
        match (self.status, self.account_id, self.role) {
            (Status::Active, Some(account), Some(role)) => Ok((account, role)),
            (Status::Deleted { .. }, ..) => Err(DomainError::UserDeleted),
            (Status::Purged, ..) => Err(DomainError::UserPurged),
            _ => Err(DomainError::UserNotFound),
        }
    }
}

/// `evolve` needs the time of each event for deletions; the application
/// passes each stored event's `recorded_at`.
pub fn evolve(mut state: UserState, event: &UserEvent, at: DateTime<Utc>) -> UserState {
    match event {
        UserEvent::Created {
            user_id,
            account_id,
            email,
            name,
            role,
            invitation_id,
            username,
            ..
        } => {
            state.invitation_id = *invitation_id;
            state.username = username.clone();
            state.user_id = Some(*user_id);
            state.account_id = Some(*account_id);
            state.email = Some(email.clone());
            state.name = name.clone();
            state.role = Some(*role);
            state.status = Status::Active;
        }
        UserEvent::RoleChanged { to, .. } => state.role = Some(*to),
        UserEvent::ProfileUpdated {
            name,
            email,
            username,
        } => {
            if let Some(name) = name {
                state.name = name.clone();
            }
            if let Some(username) = username {
                state.username = Some(username.clone());
            }
            if let Some(email) = email {
                state.email = Some(email.clone());
            }
        }
        UserEvent::Deleted { licenses, .. } => {
            state.status = Status::Deleted { at };
            state.sessions_revoked_at = Some(at);
            state.licenses.clear();
            state.licenses_at_deletion = licenses.clone();
        }
        UserEvent::LicenseAssigned { license_id } => {
            state.licenses.insert(*license_id);
        }
        UserEvent::LicenseReleased { license_id } => {
            state.licenses.remove(license_id);
        }
        UserEvent::CustomersAssigned { customers } => {
            state.assigned_customers = customers.iter().copied().collect();
        }
        UserEvent::SessionsRevoked => state.sessions_revoked_at = Some(at),
        UserEvent::NotificationPreferencesChanged { preferences } => {
            state.notifications = Some(preferences.clone());
        }
        UserEvent::LocationChallenged {
            ip,
            code_hash,
            expires_at,
        } => {
            state
                .location_challenges
                .insert(ip.clone(), (code_hash.clone(), *expires_at));
        }
        UserEvent::TrustedLocationAdded { ip } => {
            state.location_challenges.remove(ip);
            state.trusted_locations.insert(ip.clone());
        }
        UserEvent::TrustedLocationRemoved { ip } => {
            state.trusted_locations.remove(ip);
        }
        UserEvent::PasswordChanged { .. } => {}
        UserEvent::Restored {
            role,
            without_username,
        } => {
            if *without_username {
                state.username = None;
            }
            state.role = Some(*role);
            state.status = Status::Active;
            state.licenses_at_deletion.clear();
        }
        UserEvent::Purged { .. } => {
            state.status = Status::Purged;
            state.email = None;
            state.username = None;
            state.name.clear();
        }
    }
    state
}

/// Events for each stream a user command touches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub user: Vec<UserEvent>,
    pub account: Vec<AccountEvent>,
    /// Claim events, each for the address it concerns.
    pub email: Vec<(Email, EmailEvent)>,
    /// Username claim events, each for the username it concerns.
    pub username: Vec<(Username, UsernameEvent)>,
    /// Events for license streams (seats released or assigned again).
    pub licenses: Vec<(LicenseId, Vec<LicenseEvent>)>,
    /// Licenses a restore could not assign again (no free seat, cancelled).
    pub licenses_not_restored: Vec<LicenseId>,
    /// The username a restore could not claim again (taken meanwhile).
    pub username_not_restored: Option<Username>,
}

/// The states of the licenses a command concerns, by id.
pub type Licenses = BTreeMap<LicenseId, LicenseState>;

/// A new user's details, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user_id: UserId,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub origin: Origin,
    /// The invitation the user signed up through, if any (its invitee's
    /// data is erased with the user's).
    pub invitation: Option<InvitationId>,
}

/// Names of people: trimmed, 1 to 200 characters.
pub fn parse_person_name(name: &str) -> Result<String, DomainError> {
    account::parse_name(name)
}

pub fn decide_create(
    user: &UserState,
    account: &AccountState,
    claim: &EmailClaim,
    new: &NewUser,
) -> Result<Decision, DomainError> {
    decide_create_with_username(user, account, claim, new, None)
}

/// [`decide_create`] with a username, which must be free (`username`: it
/// and the state of its claim).
pub fn decide_create_with_username(
    user: &UserState,
    account: &AccountState,
    claim: &EmailClaim,
    new: &NewUser,
    username: Option<(&Username, &UsernameClaim)>,
) -> Result<Decision, DomainError> {
    if user.user_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    let kind = account.live_kind()?;
    if !new.role.exists_in(kind) {
        return Err(crate::domain::role::RoleError::NotInAccountKind {
            role: new.role,
            kind,
        }
        .into());
    }
    if claim.holder.is_some() {
        return Err(DomainError::EmailTaken);
    }
    if username.is_some_and(|(_, claim)| claim.holder.is_some()) {
        return Err(DomainError::UsernameTaken);
    }
    let account_id = account.account_id.ok_or(DomainError::AccountNotFound)?;
    Ok(Decision {
        user: vec![UserEvent::Created {
            user_id: new.user_id,
            account_id,
            email: new.email.clone(),
            name: parse_person_name(&new.name)?,
            role: new.role,
            origin: new.origin,
            invitation_id: new.invitation,
            username: username.map(|(u, _)| u.clone()),
        }],
        account: account::admin_change(account, new.user_id, false, new.role == Role::Admin, None)?,
        email: vec![(
            new.email.clone(),
            EmailEvent::Claimed {
                user_id: new.user_id,
            },
        )],
        username: username
            .map(|(u, _)| {
                (
                    u.clone(),
                    UsernameEvent::Claimed {
                        user_id: new.user_id,
                    },
                )
            })
            .into_iter()
            .collect(),
        ..Decision::default()
    })
}

pub fn decide_change_role(
    user: &UserState,
    account: &AccountState,
    to: Role,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    let (_, from) = user.live()?;
    let kind = account.live_kind()?;
    if !to.exists_in(kind) {
        return Err(crate::domain::role::RoleError::NotInAccountKind { role: to, kind }.into());
    }
    if from == to {
        return Err(DomainError::NoChange);
    }
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    Ok(Decision {
        user: vec![UserEvent::RoleChanged { from, to }],
        account: account::admin_change(
            account,
            user_id,
            from == Role::Admin,
            to == Role::Admin,
            actor,
        )?,
        email: vec![],
        ..Decision::default()
    })
}

/// Editing name, e-mail and/or username; a new address must be free
/// (`new_claim` is the claim of the new address), and so must a new
/// username (`username`: it and its claim). Only the owner edits the owner.
///
/// Changing one's own address (`actor` is the user) also ends every session.
pub fn decide_update_profile(
    user: &UserState,
    account: &AccountState,
    name: Option<&str>,
    email: Option<&Email>,
    new_claim: &EmailClaim,
    username: Option<(&Username, &UsernameClaim)>,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    user.live()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    account::check_owner_edit(account, user_id, actor)?;
    let by_self = actor == Some(user_id);
    let name = name
        .map(parse_person_name)
        .transpose()?
        .filter(|n| *n != user.name);
    // A new spelling of the same address (other letter case) is an update
    // but keeps the claim; another address moves the claim.
    let email = email
        .filter(|e| user.email.as_ref().map(Email::as_str) != Some(e.as_str()))
        .cloned();
    // Usernames are lowercased: the same one is no change.
    let username = username.filter(|(u, _)| user.username.as_ref() != Some(*u));
    if name.is_none() && email.is_none() && username.is_none() {
        return Err(DomainError::NoChange);
    }
    let mut claims = Vec::new();
    if let Some(new_email) = email.as_ref().filter(|e| user.email.as_ref() != Some(*e)) {
        if new_claim.holder.is_some_and(|h| h != user_id) {
            return Err(DomainError::EmailTaken);
        }
        if let Some(old) = &user.email {
            claims.push((old.clone(), EmailEvent::Released { user_id }));
        }
        claims.push((new_email.clone(), EmailEvent::Claimed { user_id }));
    }
    let mut username_claims = Vec::new();
    if let Some((new_username, claim)) = username {
        if claim.holder.is_some_and(|h| h != user_id) {
            return Err(DomainError::UsernameTaken);
        }
        if let Some(old) = &user.username {
            username_claims.push((old.clone(), UsernameEvent::Released { user_id }));
        }
        username_claims.push((new_username.clone(), UsernameEvent::Claimed { user_id }));
    }
    let revoke = by_self && email.is_some();
    let mut events = vec![UserEvent::ProfileUpdated {
        name,
        email,
        username: username.map(|(u, _)| u.clone()),
    }];
    if revoke {
        events.push(UserEvent::SessionsRevoked);
    }
    Ok(Decision {
        user: events,
        account: vec![],
        email: claims,
        username: username_claims,
        ..Decision::default()
    })
}

/// Which customers a partner's staff member works for. `customers` must all
/// be customers of the user's partner account (checked by the caller, who
/// can read them). Only the owner changes the owner's.
pub fn decide_assign_customers(
    user: &UserState,
    account: &AccountState,
    customers: &[AccountId],
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    user.live()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    account::check_owner_edit(account, user_id, actor)?;
    let wanted: BTreeSet<AccountId> = customers.iter().copied().collect();
    if wanted == user.assigned_customers {
        return Err(DomainError::NoChange);
    }
    Ok(Decision {
        user: vec![UserEvent::CustomersAssigned {
            customers: wanted.into_iter().collect(),
        }],
        ..Decision::default()
    })
}

/// Whether a partner's staff member may work for `customer`: assigned to
/// it, or assigned to none (then all of the partner's customers).
pub fn works_for(user: &UserState, customer: AccountId) -> bool {
    user.assigned_customers.is_empty() || user.assigned_customers.contains(&customer)
}

/// Force logout: every session of the user ends now (the owner's only by
/// the owner).
pub fn decide_revoke_sessions(
    user: &UserState,
    account: &AccountState,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    user.live()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    account::check_owner_edit(account, user_id, actor)?;
    Ok(Decision {
        user: vec![UserEvent::SessionsRevoked],
        ..Decision::default()
    })
}

/// A password was set. Changing one's own password, or an admin's reset,
/// ends every session (the holder of an old session may be the reason).
pub fn decide_password_changed(user: &UserState, temporary: bool) -> Result<Decision, DomainError> {
    user.live()?;
    Ok(Decision {
        user: vec![
            UserEvent::PasswordChanged { temporary },
            UserEvent::SessionsRevoked,
        ],
        ..Decision::default()
    })
}

/// An admin's reset to a temporary password; the owner's password is reset
/// only by the owner. (Bootstrap's one-time password and a new user's first
/// password are set, not reset: [`decide_password_changed`].)
pub fn decide_password_reset(
    user: &UserState,
    account: &AccountState,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    user.live()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    account::check_owner_edit(account, user_id, actor)?;
    decide_password_changed(user, true)
}

/// New digest settings for a live user.
pub fn decide_notification_preferences(
    user: &UserState,
    preferences: Preferences,
) -> Result<Decision, DomainError> {
    user.live()?;
    Ok(Decision {
        user: vec![UserEvent::NotificationPreferencesChanged { preferences }],
        ..Decision::default()
    })
}

/// An IP address in its one canonical text form.
pub fn parse_location(text: &str) -> Result<String, DomainError> {
    text.trim()
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| DomainError::InvalidIp)
}

/// Whether a sign-in from `ip` needs a second factor: only once the user
/// has trusted locations, and only from elsewhere (an unknown address is
/// elsewhere).
pub fn needs_second_factor(user: &UserState, ip: Option<&str>) -> bool {
    !user.trusted_locations.is_empty() && !ip.is_some_and(|ip| user.trusted_locations.contains(ip))
}

/// Trusts a location (by the user or an admin); refused if it is already.
/// Trusting a login location: the user themself, or an admin — but the
/// owner's locations only by the owner (like any edit of the owner).
pub fn decide_trust_location(
    user: &UserState,
    account: &AccountState,
    ip: &str,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    user.live()?;
    account::check_owner_edit(
        account,
        user.user_id.ok_or(DomainError::UserNotFound)?,
        actor,
    )?;
    let ip = parse_location(ip)?;
    if user.trusted_locations.contains(&ip) {
        return Err(DomainError::AlreadyExists);
    }
    Ok(Decision {
        user: vec![UserEvent::TrustedLocationAdded { ip }],
        ..Decision::default()
    })
}

/// Removing a trusted location: guarded like [`decide_trust_location`].
pub fn decide_untrust_location(
    user: &UserState,
    account: &AccountState,
    ip: &str,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    user.live()?;
    account::check_owner_edit(
        account,
        user.user_id.ok_or(DomainError::UserNotFound)?,
        actor,
    )?;
    let ip = parse_location(ip)?;
    if !user.trusted_locations.contains(&ip) {
        return Err(DomainError::NotFound);
    }
    Ok(Decision {
        user: vec![UserEvent::TrustedLocationRemoved { ip }],
        ..Decision::default()
    })
}

/// A sign-in from an untrusted `ip`: a code (its hash here) goes out.
pub fn decide_challenge(
    user: &UserState,
    ip: &str,
    code_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<Decision, DomainError> {
    user.live()?;
    Ok(Decision {
        user: vec![UserEvent::LocationChallenged {
            ip: parse_location(ip)?,
            code_hash,
            expires_at,
        }],
        ..Decision::default()
    })
}

/// The code of the open challenge for `ip`, before it expires: the
/// location becomes trusted (and the challenge is used up).
pub fn decide_pass_challenge(
    user: &UserState,
    ip: &str,
    code_hash: &str,
    now: DateTime<Utc>,
) -> Result<Decision, DomainError> {
    use subtle::ConstantTimeEq;
    user.live()?;
    let ip = parse_location(ip)?;
    let Some((expected, expires_at)) = user.location_challenges.get(&ip) else {
        return Err(DomainError::InvalidSecondFactor);
    };
    let matches: bool = expected.as_bytes().ct_eq(code_hash.as_bytes()).into();
    if !matches || now >= *expires_at {
        return Err(DomainError::InvalidSecondFactor);
    }
    Ok(Decision {
        user: vec![UserEvent::TrustedLocationAdded { ip }],
        ..Decision::default()
    })
}

/// Soft delete. Releases the address (a restore claims it again if free)
/// and the seats of the user's licenses (`licenses`: their states).
pub fn decide_delete(
    user: &UserState,
    account: &AccountState,
    licenses: &Licenses,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    let (_, role) = user.live()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    let mut email = Vec::new();
    if let Some(address) = &user.email {
        email.push((address.clone(), EmailEvent::Released { user_id }));
    }
    let username = user
        .username
        .iter()
        .map(|u| (u.clone(), UsernameEvent::Released { user_id }))
        .collect();
    let held: Vec<LicenseId> = user.licenses.iter().copied().collect();
    let released = held
        .iter()
        .filter_map(|id| {
            let events =
                license::decide_release(licenses.get(id)?, &[user_id], ReleaseReason::UserDeleted);
            (!events.is_empty()).then_some((*id, events))
        })
        .collect();
    Ok(Decision {
        user: vec![UserEvent::Deleted {
            role,
            licenses: held,
        }],
        account: account::admin_change(account, user_id, role == Role::Admin, false, actor)?,
        email,
        username,
        licenses: released,
        licenses_not_restored: vec![],
        username_not_restored: None,
    })
}

/// Restore within the retention period, with the previous role, if the
/// address is still free; the licenses held at deletion are assigned again
/// where a seat is free, and the others are reported.
pub fn decide_restore(
    user: &UserState,
    account: &AccountState,
    claim: &EmailClaim,
    licenses: &Licenses,
    previous_role: Role,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Decision, DomainError> {
    decide_restore_with_username(
        user,
        account,
        claim,
        &UsernameClaim::default(),
        licenses,
        previous_role,
        now,
        retention,
    )
}

/// [`decide_restore`] that also claims the user's username again if it is
/// still free (`username_claim`: its claim); if another user took it, the
/// user comes back without one and the decision reports it.
#[allow(clippy::too_many_arguments)]
pub fn decide_restore_with_username(
    user: &UserState,
    account: &AccountState,
    claim: &EmailClaim,
    username_claim: &UsernameClaim,
    licenses: &Licenses,
    previous_role: Role,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Decision, DomainError> {
    let at = user.deleted_at()?;
    if now > at + retention {
        return Err(DomainError::RetentionExpired);
    }
    account.live_kind()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    if claim.holder.is_some_and(|h| h != user_id) {
        return Err(DomainError::EmailTaken);
    }
    let email = user
        .email
        .iter()
        .map(|e| (e.clone(), EmailEvent::Claimed { user_id }))
        .collect();
    let taken = username_claim.holder.is_some_and(|h| h != user_id);
    let (username, username_not_restored) = match &user.username {
        Some(u) if taken => (vec![], Some(u.clone())),
        Some(u) => (vec![(u.clone(), UsernameEvent::Claimed { user_id })], None),
        None => (vec![], None),
    };
    let mut events = vec![UserEvent::Restored {
        role: previous_role,
        without_username: username_not_restored.is_some(),
    }];
    let mut reassigned = Vec::new();
    let mut not_restored = Vec::new();
    for id in &user.licenses_at_deletion {
        match licenses
            .get(id)
            .map(|l| license::decide_assign(l, &[user_id]))
        {
            Some(Ok(assigned)) => {
                events.push(UserEvent::LicenseAssigned { license_id: *id });
                reassigned.push((*id, assigned));
            }
            _ => not_restored.push(*id),
        }
    }
    Ok(Decision {
        user: events,
        account: account::admin_change(
            account,
            user_id,
            false,
            previous_role == Role::Admin,
            None,
        )?,
        email,
        username,
        licenses: reassigned,
        licenses_not_restored: not_restored,
        username_not_restored,
    })
}

/// Purge once the retention period is over.
pub fn decide_purge(
    user: &UserState,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Decision, DomainError> {
    let at = user.deleted_at()?;
    if now <= at + retention {
        return Err(DomainError::RetentionNotExpired);
    }
    Ok(Decision {
        user: vec![UserEvent::Purged {
            invitation_id: user.invitation_id,
        }],
        ..Decision::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::role::AccountKind;
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
        assert!(
            decide_update_profile(&other_admin, &acme, Some("B"), None, &free, None, me).is_ok()
        );
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
}
