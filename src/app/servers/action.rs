//! `RecordServerAction`: something done on a server (control center
//! opened, files uploaded, …), kept in its activity.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
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

impl OnEntity<ServerId> for RecordServerAction {
    const ACTION: Action = Action::ServerAction;

    fn entity(&self) -> ServerId {
        self.server_id
    }
}

impl Command for RecordServerAction {
    type Facts = ServerFacts;

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
