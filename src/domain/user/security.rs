//! A user's security: sessions ended by force, passwords set and reset,
//! trusted sign-in locations and the second-factor challenge from new ones,
//! and notification preferences.

use chrono::{DateTime, Utc};

use super::aggregate::{UserEvent, UserState};
use super::decision::Decision;
use crate::domain::account::{self, AccountState};
use crate::domain::ids::UserId;
use crate::domain::notification::Preferences;
use crate::domain::DomainError;

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
