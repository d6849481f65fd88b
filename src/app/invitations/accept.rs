//! `AcceptInvitation`: the one command whose authorization is the link's
//! secret rather than a signed-in actor (the secret proves the invitee got
//! the e-mail). It appends, atomically, the invitation's acceptance, the
//! new user — and for a tenant invitation the new account with its first
//! admin — and the claim of the address; then `Auth` stores the password.
//!
//! Only `Auth` builds it (its fields are not public): the token is parsed
//! there, and the context it runs in names the invitee as the actor.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Accepted;
use crate::app::command::Change;
use crate::app::command::{Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::app::sessions::{Auth, AuthError};
use crate::app::users::{with_user_changes, Read};
use crate::auth::password::Password;
use crate::auth::token::SecretToken;
use crate::domain::account::{self, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, InvitationId, UserId};
use crate::domain::invitation::{self, InvitationState, InvitationTarget};
use crate::domain::permissions::Action;
use crate::domain::role::Role;
use crate::domain::user::{self, EmailClaim, NewUser, Origin};
use crate::domain::DomainError;
use uuid::Uuid;

/// Completes the signup of the invitation the token names.
pub struct AcceptInvitation {
    token: SecretToken,
    /// The new user's id (and the actor of the command's context).
    user_id: UserId,
    /// The new account's id, for a tenant invitation.
    new_account: AccountId,
    name: String,
    now: DateTime<Utc>,
}

impl AcceptInvitation {
    fn invitation_id(&self) -> InvitationId {
        InvitationId(self.token.id)
    }

    /// The account the invitee joins: the inviting account, or for a
    /// tenant invitation the new one.
    fn joins(&self, target: &InvitationTarget) -> AccountId {
        match target {
            InvitationTarget::User { account_id, .. } => *account_id,
            InvitationTarget::Tenant { .. } => self.new_account,
        }
    }
}

/// The invitation, the address it was sent to, the account the invitee
/// joins (for a tenant, the new account, not yet on the log) and the
/// address's claim.
pub struct AcceptFacts {
    invitation: Loaded<InvitationState>,
    target: InvitationTarget,
    email: Email,
    account: Loaded<AccountState>,
    claim: Loaded<EmailClaim>,
}

impl AcceptFacts {
    /// The account the invitee joins.
    fn account_id(&self, command: &AcceptInvitation) -> AccountId {
        command.joins(&self.target)
    }
}

impl Facts<AcceptInvitation> for AcceptFacts {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &AcceptInvitation,
    ) -> Result<Self, LedgerError> {
        let invitation = ledger.load_invitation(command.invitation_id()).await?;
        let target = invitation
            .state
            .target
            .clone()
            .ok_or(DomainError::InvalidInvitation)?;
        let email = invitation
            .state
            .email
            .clone()
            .ok_or(DomainError::InvalidInvitation)?;
        let account = ledger.load_account(command.joins(&target)).await?;
        let claim = ledger.load_claim(&email).await?;
        Ok(Self {
            invitation,
            target,
            email,
            account,
            claim,
        })
    }

    fn permission(&self, command: &AcceptInvitation) -> Result<Permission<'_>, LedgerError> {
        Ok(Permission::invitee(&self.account.state, &self.email)
            .recorded_in(self.account_id(command)))
    }
}

impl Command for AcceptInvitation {
    type Facts = AcceptFacts;

    fn decide(&self, facts: &AcceptFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let account_id = facts.account_id(self);
        // A tenant invitation creates the account the invitee joins as
        // its first admin.
        let (role, created, account) = match &facts.target {
            InvitationTarget::User { role, .. } => (*role, Vec::new(), facts.account.state.clone()),
            InvitationTarget::Tenant {
                parent_id,
                tenant_kind,
                name,
            } => {
                let created = account::decide_create(
                    &facts.account.state,
                    account_id,
                    *tenant_kind,
                    name,
                    Some(*parent_id),
                )?;
                let state = created
                    .iter()
                    .fold(facts.account.state.clone(), account::evolve);
                (Role::Admin, created, state)
            }
        };
        let accepted = invitation::decide_accept(
            &facts.invitation.state,
            self.token.matches(&facts.invitation.state.token_hash),
            self.now,
            self.user_id,
            account_id,
        )?;
        let new = NewUser {
            user_id: self.user_id,
            email: facts.email.clone(),
            name: self.name.clone(),
            role,
            origin: Origin::Invitation,
            invitation: Some(self.invitation_id()),
        };
        let mut decided = user::decide_create(
            &user::UserState::default(),
            &account,
            &facts.claim.state,
            &new,
        )?;
        let mut account_events = created;
        account_events.append(&mut decided.account);
        decided.account = account_events;
        let decision = Decision::new(
            ActivityType::AcceptInvitation,
            format!("{} accepted the invitation and signed up", facts.email),
        )
        .target("invitation", self.invitation_id())
        .target("user", self.user_id)
        .change(Change::at(
            self.invitation_id().stream(),
            facts.invitation.version,
            &accepted,
        )?);
        let read = Read {
            user: (self.user_id, 0),
            account: (Some(account_id), facts.account.version),
            emails: vec![(&facts.email, facts.claim.version)],
            usernames: Vec::new(),
            licenses: &BTreeMap::new(),
        };
        with_user_changes(decision, decided, &read)
    }
}

impl Auth {
    /// Completes a signup with the link's token: creates the user (and the
    /// tenant), claims the address, sets the password.
    pub async fn accept_invitation(
        &self,
        context: &CommandContext,
        token: &str,
        name: &str,
        password: &Password,
        now: DateTime<Utc>,
    ) -> Result<Accepted, AuthError> {
        let token = SecretToken::parse(token)
            .map_err(|_| LedgerError::Domain(DomainError::InvalidInvitation))?;
        let user_id = UserId(Uuid::now_v7());
        // The invitee acts: the signup is theirs (and so are the request's
        // address and user agent, erased with them), and so is their
        // password.
        let as_invitee = CommandContext {
            actor: Some(user_id),
            ..context.clone()
        };
        let accept = AcceptInvitation {
            token,
            user_id,
            new_account: AccountId(Uuid::now_v7()),
            name: name.to_owned(),
            now,
        };
        let ran = self.ledger.run(&as_invitee, accept).await?;
        self.set_password(
            &as_invitee,
            user_id,
            password,
            false,
            Action::UpdateOwnProfile,
            now,
        )
        .await?;
        let account_id = match self.ledger.user(user_id).await?.account_id {
            Some(account) => account,
            None => return Err(LedgerError::Domain(DomainError::UserNotFound).into()),
        };
        Ok(Accepted {
            user_id,
            account_id,
            position: ran.last_position(),
        })
    }
}
