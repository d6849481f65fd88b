//! Trusted login locations: a user (or an admin for them) trusts or stops
//! trusting an address; a sign-in from an address not trusted is
//! challenged with a code sent by e-mail, and passing it trusts the
//! address.
//!
//! The challenge records only the code's hash; the e-mail carries the code
//! itself, while the log's copy of the message shows a placeholder.

use chrono::{DateTime, Utc};

use super::{UserCommand, UserFacts};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::notifications::{Notice, Recipient};
use crate::domain::ids::UserId;
use crate::domain::notification;
use crate::domain::permissions::Action;
use crate::domain::user;

/// Trusts `ip` for `user_id` (`trusted`), or stops trusting it.
#[derive(Debug, Clone)]
pub struct SetLocationTrust {
    pub user_id: UserId,
    pub ip: String,
    pub trusted: bool,
}

/// A sign-in from `ip`, not trusted: records the challenge and e-mails
/// `code` (valid until `expires_at`). The user acts (they are signing in).
#[derive(Debug, Clone)]
pub struct ChallengeLocation {
    pub user_id: UserId,
    pub ip: String,
    pub code: String,
    pub code_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// The code of an open challenge, given back at `now`: trusts `ip`.
#[derive(Debug, Clone)]
pub struct PassChallenge {
    pub user_id: UserId,
    pub ip: String,
    pub code_hash: String,
    pub now: DateTime<Utc>,
}

impl UserCommand for SetLocationTrust {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn action(&self, facts: &UserFacts) -> Action {
        facts.unless_own(Action::UpdateUserProfile)
    }
}

impl Command for SetLocationTrust {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let (target, account, ip) = (facts.state(), facts.account(), &self.ip);
        let (decided, description) = if self.trusted {
            (
                user::decide_trust_location(target, account, ip, actor.user)?,
                format!("Added the trusted login location {}", ip.trim()),
            )
        } else {
            (
                user::decide_untrust_location(target, account, ip, actor.user)?,
                format!("Removed the trusted login location {}", ip.trim()),
            )
        };
        facts.decision(ActivityType::UpdateTrustedConnection, description, decided)
    }
}

impl UserCommand for ChallengeLocation {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn action(&self, _: &UserFacts) -> Action {
        Action::UpdateOwnProfile
    }
}

impl Command for ChallengeLocation {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let target = facts.state();
        let decided =
            user::decide_challenge(target, &self.ip, self.code_hash.clone(), self.expires_at)?;
        let mut decision = facts.decision(
            ActivityType::UpdateTrustedConnection,
            format!(
                "Sign-in from a new location {}: a code was e-mailed",
                self.ip
            ),
            decided,
        )?;
        if let Some(email) = &target.email {
            decision = decision.notify(Notice {
                recipient: Recipient::user(self.user_id, email.clone()),
                logged: notification::sign_in_code(
                    notification::CODE_PLACEHOLDER,
                    &self.ip,
                    self.expires_at,
                ),
                sent: notification::sign_in_code(&self.code, &self.ip, self.expires_at),
            });
        }
        Ok(decision)
    }
}

impl UserCommand for PassChallenge {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn action(&self, _: &UserFacts) -> Action {
        Action::UpdateOwnProfile
    }
}

impl Command for PassChallenge {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let decided =
            user::decide_pass_challenge(facts.state(), &self.ip, &self.code_hash, self.now)?;
        facts.decision(
            ActivityType::UpdateTrustedConnection,
            format!(
                "Trusted a new login location {} (code from e-mail)",
                self.ip
            ),
            decided,
        )
    }
}
