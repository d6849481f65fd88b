//! `ResendInvitation`: a new link with a new expiry; the old link stops
//! working. Asked of the matrix as inviting was.

use chrono::{DateTime, Utc};

use super::{invitation_notice, InvitationFacts};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::invitations::OnInvitation;
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::ids::InvitationId;
use crate::domain::invitation;
use crate::domain::DomainError;

/// Sends `invitation_id` again with the link `code` (hash `token_hash`),
/// valid until `expires_at`. Not `Debug`: it holds the secret.
#[derive(Clone)]
pub struct ResendInvitation {
    pub invitation_id: InvitationId,
    pub code: String,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

impl OnInvitation for ResendInvitation {
    fn invitation(&self) -> InvitationId {
        self.invitation_id
    }
}

impl Command for ResendInvitation {
    type Facts = InvitationFacts;

    fn decide(&self, facts: &InvitationFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = invitation::decide_resend(state, self.token_hash.clone(), self.expires_at)?;
        let address = state.email.clone().ok_or(DomainError::NotFound)?;
        Ok(facts
            .decision(
                ActivityType::InviteUser,
                format!("Resent the invitation of {address}"),
                &events,
            )?
            .notify(invitation_notice(
                self.invitation_id,
                &address,
                &self.code,
                self.expires_at,
            )))
    }
}
