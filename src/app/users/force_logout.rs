//! `ForceLogout`: every session of a user ends now (an admin, or the user
//! themself). Sessions are checked against the user's stream on every
//! request, so the next request of any of them is refused.

use super::{UserCommand, UserFacts};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::ids::UserId;
use crate::domain::permissions::Action;
use crate::domain::user;

/// Ends every session of `user_id`.
#[derive(Debug, Clone)]
pub struct ForceLogout {
    pub user_id: UserId,
}

impl UserCommand for ForceLogout {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn action(&self, facts: &UserFacts) -> Action {
        facts.unless_own(Action::ForceLogout)
    }
}

impl Command for ForceLogout {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let decided = user::decide_revoke_sessions(facts.state(), facts.account(), actor.user)?;
        facts.decision(
            ActivityType::ForceLogout,
            format!("Signed {} out everywhere", facts.shown()),
            decided,
        )
    }
}
