//! The user aggregate: what can happen to a user ([`UserEvent`]), the state
//! its events make ([`UserState`]) and [`evolve`], which folds one into the
//! other. Decisions live beside it, in `lifecycle.rs` and `security.rs`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::email::Email;
use crate::domain::ids::{AccountId, InvitationId, LicenseId, UserId};
use crate::domain::notification::Preferences;
use crate::domain::role::Role;
use crate::domain::username::Username;
use crate::domain::DomainError;

/// Default time a deleted user can be restored before being purged.
pub const DEFAULT_RETENTION_DAYS: i64 = 30;

/// How a user came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    pub(super) fn deleted_at(&self) -> Result<DateTime<Utc>, DomainError> {
        match self.status {
            Status::Deleted { at } => Ok(at),
            Status::Purged => Err(DomainError::UserPurged),
            Status::Absent => Err(DomainError::UserNotFound),
            Status::Active => Err(DomainError::UserNotDeleted),
        }
    }

    pub(super) fn live(&self) -> Result<(AccountId, Role), DomainError> {
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
