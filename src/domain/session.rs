//! Sessions: opened by signing in, closed by signing out, and void once
//! they expire or the user's sessions are revoked (see `UserState`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, SessionId, UserId};
use crate::domain::DomainError;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    SignedOut,
}

/// What happened to a session; schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum SessionEvent {
    /// `token_hash` is the SHA-256 of the token's secret, never the token.
    #[serde(rename = "session.opened")]
    Opened {
        session_id: SessionId,
        user_id: UserId,
        account_id: AccountId,
        token_hash: String,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename = "session.closed")]
    Closed { reason: CloseReason },
}

impl SessionEvent {
    pub const TYPES: [&'static str; 2] = ["session.opened", "session.closed"];
}

/// A session as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionState {
    pub user_id: Option<UserId>,
    pub account_id: Option<AccountId>,
    pub token_hash: String,
    pub opened_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub closed: bool,
}

pub fn evolve(mut state: SessionState, event: &SessionEvent, at: DateTime<Utc>) -> SessionState {
    match event {
        SessionEvent::Opened {
            user_id,
            account_id,
            token_hash,
            expires_at,
            ..
        } => {
            state.user_id = Some(*user_id);
            state.account_id = Some(*account_id);
            state.token_hash = token_hash.clone();
            state.opened_at = Some(at);
            state.expires_at = Some(*expires_at);
        }
        SessionEvent::Closed { .. } => state.closed = true,
    }
    state
}

impl SessionState {
    /// The user and opening time of a session that is open and unexpired
    /// at `now` (the user's own state decides the rest).
    pub fn open_at(&self, now: DateTime<Utc>) -> Option<(UserId, DateTime<Utc>)> {
        match (self.user_id, self.opened_at, self.expires_at) {
            (Some(user), Some(opened), Some(expires)) if !self.closed && now < expires => {
                Some((user, opened))
            }
            _ => None,
        }
    }
}

/// Opening a session: once per id.
pub fn decide_open(
    state: &SessionState,
    session_id: SessionId,
    user_id: UserId,
    account_id: AccountId,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<Vec<SessionEvent>, DomainError> {
    if state.user_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    Ok(vec![SessionEvent::Opened {
        session_id,
        user_id,
        account_id,
        token_hash,
        expires_at,
    }])
}

/// Signing out: closing an open session (closing twice is a no-change).
pub fn decide_close(state: &SessionState) -> Result<Vec<SessionEvent>, DomainError> {
    if state.user_id.is_none() {
        return Err(DomainError::NotFound);
    }
    if state.closed {
        return Err(DomainError::NoChange);
    }
    Ok(vec![SessionEvent::Closed {
        reason: CloseReason::SignedOut,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use uuid::Uuid;

    #[test]
    fn a_session_is_open_until_closed_or_expired() {
        let now = Utc::now();
        let events = decide_open(
            &SessionState::default(),
            SessionId(Uuid::nil()),
            UserId(Uuid::nil()),
            AccountId(Uuid::nil()),
            "h".into(),
            now + Duration::hours(1),
        )
        .unwrap();
        let state = events
            .iter()
            .fold(SessionState::default(), |s, e| evolve(s, e, now));
        assert!(state.open_at(now).is_some());
        assert!(state.open_at(now + Duration::hours(2)).is_none());
        let closed = decide_close(&state)
            .unwrap()
            .iter()
            .fold(state, |s, e| evolve(s, e, now));
        assert!(closed.open_at(now).is_none());
        assert_eq!(decide_close(&closed), Err(DomainError::NoChange));
    }
}
