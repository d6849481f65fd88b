//! `RecordPassword`: the log's record of a password change — one's own, an
//! admin's reset (the user is told by e-mail) or a user's first password.
//! Every session ends. The hash itself lives outside the log (in
//! `credentials`): `Auth` stores it only after this append succeeded, so
//! the log never misses a change.

use super::{UserCommand, UserFacts};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::notifications::{Notice, Recipient};
use crate::domain::ids::UserId;
use crate::domain::notification;
use crate::domain::permissions::Action;
use crate::domain::user;

/// A new password for `user_id`, `temporary` if it must be changed at the
/// next sign-in; asked of the matrix as `action` (`ResetPassword` for an
/// admin's reset, which is also e-mailed).
#[derive(Debug, Clone)]
pub struct RecordPassword {
    pub user_id: UserId,
    pub temporary: bool,
    pub action: Action,
}

impl UserCommand for RecordPassword {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn action(&self, _: &UserFacts) -> Action {
        self.action
    }
}

impl Command for RecordPassword {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let target = facts.state();
        let reset = self.action == Action::ResetPassword;
        let decided = if reset {
            user::decide_password_reset(target, facts.account(), actor.user)?
        } else {
            user::decide_password_changed(target, self.temporary)?
        };
        let verb = if self.temporary { "Reset" } else { "Changed" };
        let description = format!("{verb} the password of {}", facts.shown());
        let mut decision = facts.decision(ActivityType::UpdatePassword, description, decided)?;
        if let (true, Some(email)) = (reset, &target.email) {
            decision = decision.notify(Notice::plain(
                Recipient::user(self.user_id, email.clone()),
                notification::password_reset(),
            ));
        }
        Ok(decision)
    }
}
