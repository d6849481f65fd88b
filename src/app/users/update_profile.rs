//! `UpdateProfile`: name, e-mail address and username. A new address or
//! username must be free among live users; it is claimed, and the old one
//! released, in the same append. Editing one's own profile is a permission
//! of its own (every role has it).

use super::{ClaimOf, Reads, UserFacts, UsernameOf};
use crate::app::command::{Command, Decision, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError};
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

/// The user's facts, and whether the actor edits their own profile.
pub struct ProfileFacts {
    user: UserFacts,
    own: bool,
}

impl Command for UpdateProfile {
    type Facts = ProfileFacts;
    type Output = ();

    async fn load(
        &self,
        ledger: &Ledger,
        context: &CommandContext,
    ) -> Result<ProfileFacts, LedgerError> {
        let reads = Reads {
            email: self.email.clone().map_or(ClaimOf::None, ClaimOf::Address),
            username: self
                .username
                .clone()
                .map_or(UsernameOf::None, UsernameOf::Name),
            ..Reads::default()
        };
        Ok(ProfileFacts {
            user: UserFacts::load(ledger, self.user_id, reads).await?,
            own: context.actor == Some(self.user_id),
        })
    }

    fn permission<'f>(&self, facts: &'f ProfileFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.user.permission(if facts.own {
            Action::UpdateOwnProfile
        } else {
            Action::UpdateUserProfile
        }))
    }

    fn decide(&self, facts: &ProfileFacts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let facts = &facts.user;
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
