//! `UpdateServer`: name, location and notification settings.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::servers::ServerFacts;
use crate::domain::ids::ServerId;
use crate::domain::permissions::Action;
use crate::domain::server;

/// Changes what is given; only what differs is recorded.
#[derive(Debug, Clone)]
pub struct UpdateServer {
    pub server_id: ServerId,
    pub name: Option<String>,
    pub location: Option<String>,
    pub notifications: Option<bool>,
}

impl OnEntity<ServerId> for UpdateServer {
    const ACTION: Action = Action::UpdateServer;

    fn entity(&self) -> ServerId {
        self.server_id
    }
}

impl Command for UpdateServer {
    type Facts = ServerFacts;

    fn decide(&self, facts: &ServerFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = server::decide_update(
            state,
            self.name.as_deref(),
            self.location.as_deref(),
            self.notifications,
        )?;
        facts.decision(
            ActivityType::UpdateServer,
            format!("Updated server {}", state.name),
            &events,
        )
    }
}
