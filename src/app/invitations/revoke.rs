//! `RevokeInvitation`: a pending invitation is withdrawn; its link stops
//! working. Asked of the matrix as inviting was.

use super::InvitationFacts;
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::invitations::OnInvitation;
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::ids::InvitationId;
use crate::domain::invitation;

/// Withdraws `invitation_id`.
#[derive(Debug, Clone)]
pub struct RevokeInvitation {
    pub invitation_id: InvitationId,
}

impl OnInvitation for RevokeInvitation {
    fn invitation(&self) -> InvitationId {
        self.invitation_id
    }
}

impl Command for RevokeInvitation {
    type Facts = InvitationFacts;

    fn decide(&self, facts: &InvitationFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = invitation::decide_revoke(state)?;
        let address = state
            .email
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        facts.decision(
            ActivityType::RevokeInvitation,
            format!("Revoked the invitation of {address}"),
            &events,
        )
    }
}
