//! `SetPartnerAccess`: the customer grants or revokes its partner's access
//! to a server.

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::servers::ServerFacts;
use crate::domain::ids::ServerId;
use crate::domain::permissions::Action;
use crate::domain::server;

#[derive(Debug, Clone)]
pub struct SetPartnerAccess {
    pub server_id: ServerId,
    pub granted: bool,
}

impl Command for SetPartnerAccess {
    type Facts = ServerFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<ServerFacts, LedgerError> {
        ServerFacts::load(ledger, self.server_id).await
    }

    fn permission<'f>(&self, facts: &'f ServerFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.permission(Action::GrantPartnerAccess))
    }

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
