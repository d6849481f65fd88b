//! `SetPartnerAccess`: the customer grants or revokes its partner's access
//! to a server.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::servers::ServerFacts;
use crate::domain::ids::ServerId;
use crate::domain::permissions::Action;
use crate::domain::server;

#[derive(Debug, Clone)]
pub struct SetPartnerAccess {
    pub server_id: ServerId,
    pub granted: bool,
}

impl OnEntity<ServerId> for SetPartnerAccess {
    const ACTION: Action = Action::GrantPartnerAccess;

    fn entity(&self) -> ServerId {
        self.server_id
    }
}

impl Command for SetPartnerAccess {
    type Facts = ServerFacts;

    fn decide(&self, facts: &ServerFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = server::decide_partner_access(state, self.granted)?;
        let verb = if self.granted { "Granted" } else { "Revoked" };
        facts.decision(
            ActivityType::UpdateServer,
            format!("{verb} partner access to server {}", state.name),
            &events,
        )
    }
}
