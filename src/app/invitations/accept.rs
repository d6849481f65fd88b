//! Accepting an invitation: the one command whose authorization is the
//! link's secret rather than a signed-in actor (the secret proves the
//! invitee got the e-mail). It appends, atomically, the invitation's
//! acceptance, the new user — and for a tenant invitation the new account
//! with its first admin — and the claim of the address; then the password
//! is stored (outside the log).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Accepted;
use crate::app::context::{ActivityType, CommandContext, EventMetadata};
use crate::app::ledger::{append, decision_appends, LedgerError};
use crate::app::sessions::{Auth, AuthError};
use crate::auth::password::Password;
use crate::auth::token::SecretToken;
use crate::domain::account;
use crate::domain::ids::{AccountId, InvitationId, UserId};
use crate::domain::invitation::{self, InvitationTarget};
use crate::domain::permissions::Action;
use crate::domain::role::Role;
use crate::domain::user::{self, NewUser, Origin};
use crate::domain::DomainError;

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
        let invitation_id = InvitationId(token.id);
        let user_id = UserId(Uuid::now_v7());
        let new_account = AccountId(Uuid::now_v7());
        let token_ref = &token;
        let outcome = self
            .ledger
            .retry(|| async move {
                let loaded = self.ledger.load_invitation(invitation_id).await?;
                let target = loaded
                    .state
                    .target
                    .clone()
                    .ok_or(DomainError::InvalidInvitation)?;
                let email = loaded
                    .state
                    .email
                    .clone()
                    .ok_or(DomainError::InvalidInvitation)?;
                let (account_id, role, mut account_events, account) = match &target {
                    InvitationTarget::User { account_id, role } => {
                        let account = self.ledger.load_account(*account_id).await?;
                        (*account_id, *role, Vec::new(), account)
                    }
                    InvitationTarget::Tenant {
                        parent_id,
                        tenant_kind,
                        name,
                    } => {
                        let fresh = self.ledger.load_account(new_account).await?;
                        let created = account::decide_create(
                            &fresh.state,
                            new_account,
                            *tenant_kind,
                            name,
                            Some(*parent_id),
                        )?;
                        let state = created.iter().fold(fresh.state.clone(), account::evolve);
                        let fresh = crate::app::ledger::Loaded {
                            state,
                            version: fresh.version,
                        };
                        (new_account, Role::Admin, created, fresh)
                    }
                };
                let accepted = invitation::decide_accept(
                    &loaded.state,
                    token_ref.matches(&loaded.state.token_hash),
                    now,
                    user_id,
                    account_id,
                )?;
                let claim = self.ledger.load_claim(&email).await?;
                let new = NewUser {
                    user_id,
                    email: email.clone(),
                    name: name.to_owned(),
                    role,
                    origin: Origin::Invitation,
                    invitation: Some(invitation_id),
                };
                let mut decision = user::decide_create(
                    &user::UserState::default(),
                    &account.state,
                    &claim.state,
                    &new,
                )?;
                account_events.append(&mut decision.account);
                decision.account = account_events;
                // The invitee acts: the signup is theirs (and so are the
                // request's address and user agent, erased with them).
                let acting = CommandContext {
                    actor: Some(user_id),
                    ..context.clone()
                };
                let metadata = EventMetadata::new(
                    &acting,
                    Some(&email),
                    Some(account_id),
                    account_id,
                    ActivityType::AcceptInvitation,
                    format!("{email} accepted the invitation and signed up"),
                    None,
                )
                .with_target("invitation", invitation_id)
                .with_target("user", user_id);
                let mut appends = vec![append(
                    invitation_id.stream(),
                    loaded.version,
                    &accepted,
                    &metadata,
                )?];
                appends.extend(decision_appends(
                    decision,
                    user_id,
                    0,
                    account_id,
                    account.version,
                    &[(&email, claim.version)],
                    &metadata,
                )?);
                Ok(appends)
            })
            .await?;
        // The invitee is the actor of their own password.
        let as_new_user = CommandContext {
            actor: Some(user_id),
            ..context.clone()
        };
        self.set_password(
            &as_new_user,
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
            position: outcome.last_position(),
        })
    }
}
