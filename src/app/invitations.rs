//! Invitation commands: invite, resend, revoke, accept.
//!
//! Accepting is the one command whose authorization is a token rather than
//! a signed-in actor: the link's secret proves the invitee got the e-mail.
//! It appends, atomically, the invitation's acceptance, the new user (and
//! for a tenant invitation the new account with its first admin) and the
//! claim of the address.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::context::{ActivityType, CommandContext, EventMetadata};
use crate::app::ledger::{append, decision_appends, LedgerError};
use crate::app::notifications::{Notice, Recipient};
use crate::app::sessions::{Auth, AuthError};
use crate::auth::password::{Password, PasswordError};
use crate::auth::token::SecretToken;
use crate::domain::account::{self, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, InvitationId, NotificationId, UserId};
use crate::domain::invitation::{self, InvitationTarget};
use crate::domain::notification;
use crate::domain::permissions::Action;
use crate::domain::role::{AccountKind, Role};
use crate::domain::user::{self, NewUser, Origin};
use crate::domain::DomainError;
use crate::store::AppendOutcome;

/// A new invitation (the token has gone out by e-mail).
#[derive(Debug, Clone)]
pub struct Invited {
    pub invitation_id: InvitationId,
    pub expires_at: DateTime<Utc>,
    pub position: u64,
}

/// A completed signup.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub position: u64,
}

fn token_error(e: crate::auth::token::TokenError) -> AuthError {
    AuthError::Password(PasswordError::Hashing(e.to_string()))
}

fn action_for(target: &InvitationTarget) -> Action {
    match target {
        InvitationTarget::User { .. } => Action::InviteUser,
        InvitationTarget::Tenant {
            tenant_kind: AccountKind::Partner,
            ..
        } => Action::InvitePartner,
        InvitationTarget::Tenant { .. } => Action::InviteOrganization,
    }
}

impl Auth {
    /// The invitation e-mail: recorded without its code, sent with it.
    fn invitation_notice(
        invitation_id: InvitationId,
        email: &Email,
        token: &SecretToken,
        expires_at: DateTime<Utc>,
    ) -> Notice {
        Notice {
            recipient: Recipient::invitee(invitation_id, email.clone()),
            logged: notification::invitation(notification::CODE_PLACEHOLDER, expires_at),
            sent: notification::invitation(&token.reveal(), expires_at),
        }
    }

    /// Invites `email`: into an account with a role, or to become the first
    /// admin of a new partner (platform only) or organization (partners).
    pub async fn invite(
        &self,
        context: &CommandContext,
        email: &Email,
        target: InvitationTarget,
        now: DateTime<Utc>,
    ) -> Result<Invited, AuthError> {
        let token = SecretToken::generate().map_err(token_error)?;
        let invitation_id = InvitationId(token.id);
        let expires_at = now + self.invitation_ttl;
        let (token_ref, target_ref) = (&token, &target);
        let outcome = self
            .ledger
            .retry(|| async move {
                let managing = self
                    .ledger
                    .load_account(target_ref.managing_account())
                    .await?;
                let authorized = self
                    .ledger
                    .authorize(context, action_for(target_ref), &managing.state)
                    .await?;
                check_target(target_ref, &managing.state)?;
                let loaded = self.ledger.load_invitation(invitation_id).await?;
                let events = invitation::decide_create(
                    &loaded.state,
                    invitation_id,
                    email,
                    target_ref.clone(),
                    token_ref.hash(),
                    expires_at,
                )?;
                let metadata = authorized
                    .metadata(
                        context,
                        target_ref.managing_account(),
                        ActivityType::InviteUser,
                        describe(email, target_ref),
                    )
                    .with_target("invitation", invitation_id);
                let notice = Self::invitation_notice(invitation_id, email, token_ref, expires_at);
                Ok(vec![
                    append(invitation_id.stream(), loaded.version, &events, &metadata)?,
                    notice.append(NotificationId(Uuid::now_v7()), &metadata)?,
                ])
            })
            .await?;
        self.ledger.deliver(&Self::invitation_notice(
            invitation_id,
            email,
            &token,
            expires_at,
        ));
        Ok(Invited {
            invitation_id,
            expires_at,
            position: outcome.last_position(),
        })
    }

    /// Sends a new link (the old one stops working) with a new expiry.
    pub async fn resend_invitation(
        &self,
        context: &CommandContext,
        invitation_id: InvitationId,
        now: DateTime<Utc>,
    ) -> Result<Invited, AuthError> {
        let token = SecretToken::generate_for(invitation_id.0).map_err(token_error)?;
        let expires_at = now + self.invitation_ttl;
        let token_ref = &token;
        let outcome = self
            .ledger
            .retry(|| async move {
                let loaded = self.ledger.load_invitation(invitation_id).await?;
                let target = loaded.state.target.clone().ok_or(DomainError::NotFound)?;
                let managing = self.ledger.load_account(target.managing_account()).await?;
                let authorized = self
                    .ledger
                    .authorize(context, action_for(&target), &managing.state)
                    .await?;
                let events =
                    invitation::decide_resend(&loaded.state, token_ref.hash(), expires_at)?;
                let address = loaded.state.email.clone().ok_or(DomainError::NotFound)?;
                let metadata = authorized
                    .metadata(
                        context,
                        target.managing_account(),
                        ActivityType::InviteUser,
                        format!("Resent the invitation of {address}"),
                    )
                    .with_target("invitation", invitation_id);
                let notice =
                    Self::invitation_notice(invitation_id, &address, token_ref, expires_at);
                Ok(vec![
                    append(invitation_id.stream(), loaded.version, &events, &metadata)?,
                    notice.append(NotificationId(Uuid::now_v7()), &metadata)?,
                ])
            })
            .await?;
        let invitation = self.ledger.load_invitation(invitation_id).await?.state;
        if let Some(address) = &invitation.email {
            self.ledger.deliver(&Self::invitation_notice(
                invitation_id,
                address,
                &token,
                expires_at,
            ));
        }
        Ok(Invited {
            invitation_id,
            expires_at,
            position: outcome.last_position(),
        })
    }

    /// Withdraws a pending invitation: its link stops working.
    pub async fn revoke_invitation(
        &self,
        context: &CommandContext,
        invitation_id: InvitationId,
    ) -> Result<AppendOutcome, AuthError> {
        Ok(self
            .ledger
            .retry(|| async move {
                let loaded = self.ledger.load_invitation(invitation_id).await?;
                let target = loaded.state.target.clone().ok_or(DomainError::NotFound)?;
                let managing = self.ledger.load_account(target.managing_account()).await?;
                let authorized = self
                    .ledger
                    .authorize(context, action_for(&target), &managing.state)
                    .await?;
                let events = invitation::decide_revoke(&loaded.state)?;
                let address = loaded
                    .state
                    .email
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let metadata = authorized
                    .metadata(
                        context,
                        target.managing_account(),
                        ActivityType::RevokeInvitation,
                        format!("Revoked the invitation of {address}"),
                    )
                    .with_target("invitation", invitation_id);
                Ok(vec![append(
                    invitation_id.stream(),
                    loaded.version,
                    &events,
                    &metadata,
                )?])
            })
            .await?)
    }

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

/// Tenant invitations follow the tenancy: partners come from the platform,
/// organizations from partners (or the platform directly).
fn check_target(target: &InvitationTarget, managing: &AccountState) -> Result<(), LedgerError> {
    let kind = managing.live_kind()?;
    match target {
        InvitationTarget::User { role, .. } => {
            if !role.exists_in(kind) {
                return Err(
                    DomainError::from(crate::domain::role::RoleError::NotInAccountKind {
                        role: *role,
                        kind,
                    })
                    .into(),
                );
            }
        }
        InvitationTarget::Tenant { tenant_kind, .. } => {
            account::check_parent(kind, *tenant_kind)?;
        }
    }
    Ok(())
}

fn describe(email: &Email, target: &InvitationTarget) -> String {
    match target {
        InvitationTarget::User { role, .. } => format!("Invited {email} as {role}"),
        InvitationTarget::Tenant {
            tenant_kind, name, ..
        } => {
            format!("Invited {email} to create the {tenant_kind:?} account {name}")
        }
    }
}
