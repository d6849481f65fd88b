//! `RestoreUser`: within the retention period a deleted user comes back
//! with the role they had — if their address is still free — and gets the
//! seats they held again where a seat is free, and their username if
//! nobody took it. What could not come back is reported, not refused.

use chrono::{DateTime, Utc};

use super::{ClaimOf, LicensesOf, Reads, UserCommand, UserFacts, UsernameOf};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::permissions::Action;
use crate::domain::user;
use crate::domain::username::Username;
use crate::domain::DomainError;

/// Restores `user_id` as of `now`.
#[derive(Debug, Clone)]
pub struct RestoreUser {
    pub user_id: UserId,
    pub now: DateTime<Utc>,
}

/// What a restore could not bring back: licenses whose seats are taken or
/// that were cancelled, and the username if another user took it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotRestored {
    pub licenses_not_restored: Vec<LicenseId>,
    pub username_not_restored: Option<Username>,
}

impl UserCommand for RestoreUser {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn reads(&self) -> Reads {
        Reads {
            email: ClaimOf::Current,
            username: UsernameOf::Current,
            licenses: LicensesOf::HeldAtDeletion,
        }
    }

    fn action(&self, _: &UserFacts) -> Action {
        Action::RestoreUser
    }
}

impl Command<NotRestored> for RestoreUser {
    type Facts = UserFacts;

    fn decide(
        &self,
        facts: &UserFacts,
        _: &Authorized,
    ) -> Result<Decision<NotRestored>, LedgerError> {
        let target = facts.state();
        let role = target.role.ok_or(DomainError::UserNotFound)?;
        let mut decided = user::decide_restore_with_username(
            target,
            facts.account(),
            &facts.email_claim(),
            &facts.username_claim(),
            &facts.licenses,
            role,
            self.now,
            facts.retention,
        )?;
        let not_restored = NotRestored {
            licenses_not_restored: std::mem::take(&mut decided.licenses_not_restored),
            username_not_restored: decided.username_not_restored.take(),
        };
        Ok(facts
            .decision(
                ActivityType::RestoreUser,
                format!("Restored user {} with role {role}", facts.shown()),
                decided,
            )?
            .reporting(not_restored))
    }
}
