//! `UpdateServerConfiguration`: a summary of a configuration change (the
//! configuration itself lives on the server).

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
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

impl OnEntity<ServerId> for UpdateServerConfiguration {
    const ACTION: Action = Action::UpdateServer;

    fn entity(&self) -> ServerId {
        self.server_id
    }
}

impl Command for UpdateServerConfiguration {
    type Facts = ServerFacts;

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
