//! `RecordServerAction`: something done on a server (control center
//! opened, files uploaded, …), kept in its activity.

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::servers::ServerFacts;
use crate::domain::ids::ServerId;
use crate::domain::permissions::Action;
use crate::domain::server;

#[derive(Debug, Clone)]
pub struct RecordServerAction {
    pub server_id: ServerId,
    /// What was done, as the portal names it.
    pub action: String,
}

impl Command for RecordServerAction {
    type Facts = ServerFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<ServerFacts, LedgerError> {
        ServerFacts::load(ledger, self.server_id).await
    }

    fn permission<'f>(&self, facts: &'f ServerFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.permission(Action::ServerAction))
    }

    fn decide(&self, facts: &ServerFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = server::decide_action(state, &self.action)?;
        facts.decision(
            ActivityType::ServerAction,
            format!("{} on server {}", self.action.trim(), state.name),
            &events,
        )
    }
}
