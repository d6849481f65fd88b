//! `DeleteUser`: a soft delete. Sessions end, the address and username are
//! freed, license seats are released (each license's stream read and
//! appended with the user's), and the user is told by e-mail that their
//! access was revoked. Restorable within the retention period.

use super::{LicensesOf, Reads, UserCommand, UserFacts};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::notifications::{Notice, Recipient};
use crate::domain::ids::UserId;
use crate::domain::notification;
use crate::domain::permissions::Action;
use crate::domain::user::{self, UserEvent};

/// Deletes `user_id`.
#[derive(Debug, Clone)]
pub struct DeleteUser {
    pub user_id: UserId,
}

impl UserCommand for DeleteUser {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn reads(&self) -> Reads {
        Reads {
            licenses: LicensesOf::Held,
            ..Reads::default()
        }
    }

    fn action(&self, _: &UserFacts) -> Action {
        Action::DeleteUser
    }
}

impl Command for DeleteUser {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let target = facts.state();
        let decided = user::decide_delete(target, facts.account(), &facts.licenses, actor.user)?;
        let deleted = decided
            .user
            .iter()
            .any(|e| matches!(e, UserEvent::Deleted { .. }));
        let mut decision = facts.decision(
            ActivityType::DeleteUser,
            format!("Deleted user {}", facts.shown()),
            decided,
        )?;
        if let (true, Some(email)) = (deleted, &target.email) {
            decision = decision.notify(Notice::plain(
                Recipient::user(self.user_id, email.clone()),
                notification::access_revoked(&facts.account().name),
            ));
        }
        Ok(decision)
    }
}
