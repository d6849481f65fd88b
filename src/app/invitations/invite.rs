//! `Invite`: someone is invited by e-mail into an account with a role, or
//! to become the first admin of a new partner (the platform invites) or
//! organization (the platform or a partner invites). The e-mail carries
//! the link's secret; the log keeps its hash and a copy of the message
//! without it.

use chrono::{DateTime, Utc};

use super::{action_for, check_target, describe, invitation_notice};
use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::email::Email;
use crate::domain::ids::InvitationId;
use crate::domain::invitation::{self, InvitationState, InvitationTarget};

/// Invites `email` to `target`; the link (`code`, whose hash is
/// `token_hash`) works until `expires_at`. Not `Debug`: it holds the
/// secret the e-mail carries.
#[derive(Clone)]
pub struct Invite {
    pub invitation_id: InvitationId,
    pub email: Email,
    pub target: InvitationTarget,
    pub code: String,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// The invitation's stream (empty unless the id is taken) and the account
/// that manages it.
pub struct NewInvitationFacts {
    invitation: Loaded<InvitationState>,
    managing: Loaded<AccountState>,
}

impl Facts<Invite> for NewInvitationFacts {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &Invite,
    ) -> Result<Self, LedgerError> {
        Ok(NewInvitationFacts {
            managing: ledger
                .load_account(command.target.managing_account())
                .await?,
            invitation: ledger.load_invitation(command.invitation_id).await?,
        })
    }

    fn permission(&self, command: &Invite) -> Result<Permission<'_>, LedgerError> {
        Ok(Permission::to(
            action_for(&command.target),
            &self.managing.state,
        ))
    }
}

impl Command for Invite {
    type Facts = NewInvitationFacts;

    fn decide(&self, facts: &NewInvitationFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        check_target(&self.target, &facts.managing.state)?;
        let events = invitation::decide_create(
            &facts.invitation.state,
            self.invitation_id,
            &self.email,
            self.target.clone(),
            self.token_hash.clone(),
            self.expires_at,
        )?;
        Ok(Decision::new(
            ActivityType::InviteUser,
            describe(&self.email, &self.target),
        )
        .target("invitation", self.invitation_id)
        .change(Change::at(
            self.invitation_id.stream(),
            facts.invitation.version,
            &events,
        )?)
        .notify(invitation_notice(
            self.invitation_id,
            &self.email,
            &self.code,
            self.expires_at,
        )))
    }
}
