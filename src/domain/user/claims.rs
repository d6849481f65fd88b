//! E-mail and username claims: one `email-…` or `username-…` stream per
//! address or name, holding who has it, so that two users can never hold
//! one (the claim's stream version is the lock).

use serde::{Deserialize, Serialize};

use crate::domain::ids::UserId;

/// Who holds an e-mail address; schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
