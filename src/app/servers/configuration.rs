//! `UpdateServerConfiguration`: a summary of a configuration change (the
//! configuration itself lives on the server).

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::servers::ServerFacts;
use crate::domain::ids::ServerId;
use crate::domain::permissions::Action;
use crate::domain::server;

#[derive(Debug, Clone)]
pub struct UpdateServerConfiguration {
    pub server_id: ServerId,
    /// What changed (several lines allowed).
    pub summary: String,
}

impl Command for UpdateServerConfiguration {
    type Facts = ServerFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<ServerFacts, LedgerError> {
        ServerFacts::load(ledger, self.server_id).await
    }

    fn permission<'f>(&self, facts: &'f ServerFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.permission(Action::UpdateServer))
    }

    fn decide(&self, facts: &ServerFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = server::decide_configuration(state, &self.summary)?;
        facts.decision(
            ActivityType::UpdateConfiguration,
            format!("Updated the configuration of server {}", state.name),
            &events,
        )
    }
}
