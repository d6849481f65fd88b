//! Invitation commands: invite, resend and revoke (command types, one file
//! each), and accept (`accept.rs`, authorized by the link's secret).
//!
//! `Auth` makes the link's secret (a token it alone handles) and runs
//! [`Invite`] or [`ResendInvitation`] with it: the e-mail carries the
//! secret, the log only its hash. Resending and revoking are asked of the
//! matrix as inviting was, in the account that manages the invitation
//! ([`InvitationFacts`]).

mod accept;
mod invite;
mod resend;
mod revoke;

pub use accept::{AcceptFacts, AcceptInvitation};
pub use invite::Invite;
pub use resend::ResendInvitation;
pub use revoke::RevokeInvitation;

use chrono::{DateTime, Utc};

use crate::app::command::{Change, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::app::notifications::{Notice, Recipient};
use crate::app::sessions::{Auth, AuthError};
use crate::auth::password::PasswordError;
use crate::auth::token::SecretToken;
use crate::domain::account::{self, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, InvitationId, UserId};
use crate::domain::invitation::{InvitationEvent, InvitationState, InvitationTarget};
use crate::domain::notification;
use crate::domain::permissions::Action;
use crate::domain::role::AccountKind;
use crate::domain::DomainError;

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

/// The invitation e-mail: recorded without its code, sent with it.
fn invitation_notice(
    invitation_id: InvitationId,
    email: &Email,
    code: &str,
    expires_at: DateTime<Utc>,
) -> Notice {
    Notice {
        recipient: Recipient::invitee(invitation_id, email.clone()),
        logged: notification::invitation(notification::CODE_PLACEHOLDER, expires_at),
        sent: notification::invitation(code, expires_at),
    }
}

/// What a command on an existing invitation rests on: the invitation and
/// the account that manages it (where inviting was asked of the matrix).
pub struct InvitationFacts {
    invitation_id: InvitationId,
    invitation: Loaded<InvitationState>,
    target: InvitationTarget,
    managing: Loaded<AccountState>,
}

/// A command on an existing invitation: which one. It is asked of the
/// matrix as sending that invitation was ([`InvitationFacts`]).
pub trait OnInvitation {
    /// The invitation acted on.
    fn invitation(&self) -> InvitationId;
}

impl<C: OnInvitation + Sync> Facts<C> for InvitationFacts {
    async fn load(ledger: &Ledger, _: &CommandContext, command: &C) -> Result<Self, LedgerError> {
        Self::read(ledger, command.invitation()).await
    }

    fn permission(&self, _: &C) -> Result<Permission<'_>, LedgerError> {
        Ok(self.asking())
    }
}

impl InvitationFacts {
    /// Reads the invitation and its managing account; an unknown
    /// invitation is not found.
    async fn read(ledger: &Ledger, invitation_id: InvitationId) -> Result<Self, LedgerError> {
        let invitation = ledger.load_invitation(invitation_id).await?;
        let target = invitation
            .state
            .target
            .clone()
            .ok_or(DomainError::NotFound)?;
        let managing = ledger.load_account(target.managing_account()).await?;
        Ok(Self {
            invitation_id,
            invitation,
            target,
            managing,
        })
    }

    fn state(&self) -> &InvitationState {
        &self.invitation.state
    }

    /// Whoever may send this kind of invitation from the managing account.
    fn asking(&self) -> Permission<'_> {
        Permission::to(action_for(&self.target), &self.managing.state)
    }

    /// `events` on the invitation's stream, explained as `activity`.
    fn decision(
        &self,
        activity: ActivityType,
        description: String,
        events: &[InvitationEvent],
    ) -> Result<Decision, LedgerError> {
        Ok(Decision::new(activity, description)
            .target("invitation", self.invitation_id)
            .change(Change::at(
                self.invitation_id.stream(),
                self.invitation.version,
                events,
            )?))
    }
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
        let invite = Invite {
            invitation_id,
            email: email.clone(),
            target,
            code: token.reveal(),
            token_hash: token.hash(),
            expires_at,
        };
        let ran = self.ledger.run(context, invite).await?;
        Ok(Invited {
            invitation_id,
            expires_at,
            position: ran.last_position(),
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
        let resend = ResendInvitation {
            invitation_id,
            code: token.reveal(),
            token_hash: token.hash(),
            expires_at,
        };
        let ran = self.ledger.run(context, resend).await?;
        Ok(Invited {
            invitation_id,
            expires_at,
            position: ran.last_position(),
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
