//! Invitations: single-use, expiring signup links.
//!
//! The platform invites partners, partners invite customer organizations
//! (accepting creates the tenant and its first admin), admins invite users
//! into their account. Several invitations to one address may exist; the
//! address is claimed only when one is accepted. The token is random; only
//! its SHA-256 is in the log, and resending replaces it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::email::Email;
use crate::domain::ids::{AccountId, InvitationId, UserId};
use crate::domain::role::{AccountKind, Role};
use crate::domain::DomainError;

/// Default lifetime of an invitation.
pub const DEFAULT_VALID_DAYS: i64 = 7;

/// What accepting the invitation creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InvitationTarget {
    /// A user with `role` in an existing account.
    User { account_id: AccountId, role: Role },
    /// A new partner (parent: the platform) or organization (parent: the
    /// partner), with the invitee as its first admin.
    Tenant {
        parent_id: AccountId,
        tenant_kind: AccountKind,
        name: String,
    },
}

impl InvitationTarget {
    /// The account whose admins manage the invitation.
    pub fn managing_account(&self) -> AccountId {
        match self {
            InvitationTarget::User { account_id, .. } => *account_id,
            InvitationTarget::Tenant { parent_id, .. } => *parent_id,
        }
    }
}

/// What happened to an invitation; schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum InvitationEvent {
    #[serde(rename = "invitation.created")]
    Created {
        invitation_id: InvitationId,
        email: Email,
        target: InvitationTarget,
        token_hash: String,
        expires_at: DateTime<Utc>,
    },
    /// A new link: the previous token no longer works.
    #[serde(rename = "invitation.resent")]
    Resent {
        token_hash: String,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename = "invitation.revoked")]
    Revoked,
    /// Signup completed: the user (and, for a tenant, the account) exists.
    #[serde(rename = "invitation.accepted")]
    Accepted {
        user_id: UserId,
        account_id: AccountId,
    },
}

impl InvitationEvent {
    pub const TYPES: [&'static str; 4] = [
        "invitation.created",
        "invitation.resent",
        "invitation.revoked",
        "invitation.accepted",
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvitationStatus {
    #[default]
    Absent,
    Pending,
    Accepted,
    Revoked,
}

/// An invitation as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvitationState {
    pub email: Option<Email>,
    pub target: Option<InvitationTarget>,
    pub token_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub status: InvitationStatus,
}

pub fn evolve(mut state: InvitationState, event: &InvitationEvent) -> InvitationState {
    match event {
        InvitationEvent::Created {
            email,
            target,
            token_hash,
            expires_at,
            ..
        } => {
            state.email = Some(email.clone());
            state.target = Some(target.clone());
            state.token_hash = token_hash.clone();
            state.expires_at = Some(*expires_at);
            state.status = InvitationStatus::Pending;
        }
        InvitationEvent::Resent {
            token_hash,
            expires_at,
        } => {
            state.token_hash = token_hash.clone();
            state.expires_at = Some(*expires_at);
        }
        InvitationEvent::Revoked => state.status = InvitationStatus::Revoked,
        InvitationEvent::Accepted { .. } => state.status = InvitationStatus::Accepted,
    }
    state
}

pub fn decide_create(
    state: &InvitationState,
    invitation_id: InvitationId,
    email: &Email,
    target: InvitationTarget,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<Vec<InvitationEvent>, DomainError> {
    if state.status != InvitationStatus::Absent {
        return Err(DomainError::AlreadyExists);
    }
    if let InvitationTarget::Tenant {
        tenant_kind, name, ..
    } = &target
    {
        if *tenant_kind == AccountKind::Platform {
            return Err(DomainError::NotFound);
        }
        crate::domain::account::parse_name(name)?;
    }
    Ok(vec![InvitationEvent::Created {
        invitation_id,
        email: email.clone(),
        target,
        token_hash,
        expires_at,
    }])
}

fn pending(state: &InvitationState) -> Result<(), DomainError> {
    match state.status {
        InvitationStatus::Pending => Ok(()),
        InvitationStatus::Absent => Err(DomainError::NotFound),
        InvitationStatus::Accepted | InvitationStatus::Revoked => {
            Err(DomainError::InvitationNotPending)
        }
    }
}

/// A new link with a new expiry (also for an expired invitation).
pub fn decide_resend(
    state: &InvitationState,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<Vec<InvitationEvent>, DomainError> {
    pending(state)?;
    Ok(vec![InvitationEvent::Resent {
        token_hash,
        expires_at,
    }])
}

pub fn decide_revoke(state: &InvitationState) -> Result<Vec<InvitationEvent>, DomainError> {
    pending(state)?;
    Ok(vec![InvitationEvent::Revoked])
}

/// Accepting with a token: it must be the current one, unused, unrevoked
/// and unexpired. Any failure looks the same to the caller, except expiry.
pub fn decide_accept(
    state: &InvitationState,
    token_matches: bool,
    now: DateTime<Utc>,
    user_id: UserId,
    account_id: AccountId,
) -> Result<Vec<InvitationEvent>, DomainError> {
    if !token_matches || state.status != InvitationStatus::Pending {
        return Err(DomainError::InvalidInvitation);
    }
    if state.expires_at.is_none_or(|expires| now >= expires) {
        return Err(DomainError::InvitationExpired);
    }
    Ok(vec![InvitationEvent::Accepted {
        user_id,
        account_id,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use uuid::Uuid;

    fn created(now: DateTime<Utc>) -> InvitationState {
        let events = decide_create(
            &InvitationState::default(),
            InvitationId(Uuid::nil()),
            &Email::parse("new@example.com").unwrap(),
            InvitationTarget::User {
                account_id: AccountId(Uuid::nil()),
                role: Role::Regular,
            },
            "hash-1".into(),
            now + Duration::days(DEFAULT_VALID_DAYS),
        )
        .unwrap();
        events.iter().fold(InvitationState::default(), evolve)
    }

    #[test]
    fn an_invitation_is_accepted_once_with_its_current_token() {
        let now = Utc::now();
        let state = created(now);
        let user = UserId(Uuid::from_u128(5));
        let account = AccountId(Uuid::nil());
        assert_eq!(
            decide_accept(&state, false, now, user, account),
            Err(DomainError::InvalidInvitation)
        );
        assert_eq!(
            decide_accept(&state, true, now + Duration::days(8), user, account),
            Err(DomainError::InvitationExpired)
        );
        let accepted = decide_accept(&state, true, now, user, account).unwrap();
        let state = accepted.iter().fold(state, evolve);
        assert_eq!(
            decide_accept(&state, true, now, user, account),
            Err(DomainError::InvalidInvitation)
        );
        assert_eq!(
            decide_revoke(&state),
            Err(DomainError::InvitationNotPending)
        );
    }

    #[test]
    fn resending_replaces_the_token_and_revoking_ends_it() {
        let now = Utc::now();
        let state = created(now);
        let resent = decide_resend(&state, "hash-2".into(), now + Duration::days(14)).unwrap();
        let state = resent.iter().fold(state, evolve);
        assert_eq!(state.token_hash, "hash-2");
        let revoked = decide_revoke(&state).unwrap().iter().fold(state, evolve);
        assert_eq!(revoked.status, InvitationStatus::Revoked);
        assert_eq!(
            decide_resend(&revoked, "h".into(), now),
            Err(DomainError::InvitationNotPending)
        );
    }
}
