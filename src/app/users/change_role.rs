//! `ChangeRole`: refused if the account would be left without an active
//! admin, or if someone other than the owner would demote the owner.

use super::{UserCommand, UserFacts};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::ids::UserId;
use crate::domain::permissions::Action;
use crate::domain::role::Role;
use crate::domain::user;

/// Gives `user_id` the role `role`.
#[derive(Debug, Clone)]
pub struct ChangeRole {
    pub user_id: UserId,
    pub role: Role,
}

impl UserCommand for ChangeRole {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn action(&self, _: &UserFacts) -> Action {
        Action::ChangeUserRole
    }
}

impl Command for ChangeRole {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let target = facts.state();
        let decided = user::decide_change_role(target, facts.account(), self.role, actor.user)?;
        let from = target.role.map_or("none", Role::as_str);
        facts.decision(
            ActivityType::UpdateUserGroups,
            format!(
                "Changed role of {} from {from} to {}",
                facts.shown(),
                self.role
            ),
            decided,
        )
    }
}
