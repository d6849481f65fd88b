//! `UpdateProfile`: name, e-mail address and username. A new address or
//! username must be free among live users; it is claimed, and the old one
//! released, in the same append. Editing one's own profile is a permission
//! of its own (every role has it).

use super::{ClaimOf, Reads, UserCommand, UserFacts, UsernameOf};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::email::Email;
use crate::domain::ids::UserId;
use crate::domain::permissions::Action;
use crate::domain::user;
use crate::domain::username::Username;

/// Changes what is given of `user_id`'s profile.
#[derive(Debug, Clone)]
pub struct UpdateProfile {
    pub user_id: UserId,
    pub name: Option<String>,
    pub email: Option<Email>,
    pub username: Option<Username>,
}

impl UserCommand for UpdateProfile {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn reads(&self) -> Reads {
        Reads {
            email: self.email.clone().map_or(ClaimOf::None, ClaimOf::Address),
            username: self
                .username
                .clone()
                .map_or(UsernameOf::None, UsernameOf::Name),
            ..Reads::default()
        }
    }

    fn action(&self, facts: &UserFacts) -> Action {
        facts.unless_own(Action::UpdateUserProfile)
    }
}

impl Command for UpdateProfile {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let username_claim = facts.username_claim();
        let decided = user::decide_update_profile(
            facts.state(),
            facts.account(),
            self.name.as_deref(),
            self.email.as_ref(),
            &facts.email_claim(),
            self.username.as_ref().map(|u| (u, &username_claim)),
            actor.user,
        )?;
        facts.decision(
            ActivityType::UpdateUserProfile,
            format!("Updated the profile of {}", facts.shown()),
            decided,
        )
    }
}
