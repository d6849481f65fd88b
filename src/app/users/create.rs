//! `CreateUser`: an admin adds a user directly (also bootstrap, a CSV
//! import, and an accepted invitation). The address — and the username,
//! if one is given — must be free among live users: both are claimed in
//! the same append as the user.

use crate::app::command::{Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;
use crate::domain::user::{self, EmailClaim, NewUser, Origin, UserState, UsernameClaim};
use crate::domain::username::Username;

use super::{user_decision, Read};

/// Creates `user` in `account_id`, with `username` if given.
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub account_id: AccountId,
    pub user: NewUser,
    pub username: Option<Username>,
}

/// The account, the user's stream (empty unless the id is taken), and the
/// claims of the address and username.
pub struct NewUserFacts {
    account: Loaded<AccountState>,
    existing: Loaded<UserState>,
    email: Loaded<EmailClaim>,
    username: Option<Loaded<UsernameClaim>>,
}

impl Facts<CreateUser> for NewUserFacts {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &CreateUser,
    ) -> Result<Self, LedgerError> {
        let account = ledger.load_account(command.account_id).await?;
        let existing = ledger.load_user(command.user.user_id).await?;
        let email = ledger.load_claim(&command.user.email).await?;
        let username = match &command.username {
            Some(username) => Some(ledger.load_username_claim(username).await?),
            None => None,
        };
        Ok(NewUserFacts {
            account,
            existing,
            email,
            username,
        })
    }

    fn permission(&self, _: &CreateUser) -> Result<Permission<'_>, LedgerError> {
        Ok(Permission::to(Action::CreateUser, &self.account.state))
    }
}

impl Command for CreateUser {
    type Facts = NewUserFacts;

    fn decide(&self, facts: &NewUserFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let new = &self.user;
        let username = self.username.as_ref().zip(facts.username.as_ref());
        let decided = user::decide_create_with_username(
            &facts.existing.state,
            &facts.account.state,
            &facts.email.state,
            new,
            username.map(|(u, c)| (u, &c.state)),
        )?;
        let activity = if new.origin == Origin::Invitation {
            ActivityType::InviteUser
        } else {
            ActivityType::UpdateUserProfile
        };
        let read = Read {
            user: (new.user_id, facts.existing.version),
            account: (Some(self.account_id), facts.account.version),
            emails: vec![(&new.email, facts.email.version)],
            usernames: username.map(|(u, c)| (u, c.version)).into_iter().collect(),
            licenses: &Default::default(),
        };
        user_decision(
            activity,
            format!("Created user {} with role {}", new.email, new.role),
            decided,
            &read,
        )
    }
}
