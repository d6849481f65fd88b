//! `BackUpServer` and `RestoreServerBackup`: a server's machine data saved
//! under an id the caller chose, and restored from one of them.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::servers::ServerFacts;
use crate::domain::ids::ServerId;
use crate::domain::permissions::Action;
use crate::domain::server;

#[derive(Debug, Clone)]
pub struct BackUpServer {
    pub server_id: ServerId,
    /// The new backup's id (the HTTP edge makes a UUID v7).
    pub backup_id: String,
}

impl OnEntity<ServerId> for BackUpServer {
    const ACTION: Action = Action::BackupServer;

    fn entity(&self) -> ServerId {
        self.server_id
    }
}

impl Command for BackUpServer {
    type Facts = ServerFacts;

    fn decide(&self, facts: &ServerFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = server::decide_backup(state, self.backup_id.clone())?;
        facts.decision(
            ActivityType::BackupMachineData,
            format!("Backed up server {}", state.name),
            &events,
        )
    }
}

#[derive(Debug, Clone)]
pub struct RestoreServerBackup {
    pub server_id: ServerId,
    pub backup_id: String,
}

impl OnEntity<ServerId> for RestoreServerBackup {
    const ACTION: Action = Action::BackupServer;

    fn entity(&self) -> ServerId {
        self.server_id
    }
}

impl Command for RestoreServerBackup {
    type Facts = ServerFacts;

    fn decide(&self, facts: &ServerFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = server::decide_restore_backup(state, &self.backup_id)?;
        facts.decision(
            ActivityType::BackupMachineData,
            format!(
                "Restored backup {} of server {}",
                self.backup_id, state.name
            ),
            &events,
        )
    }
}
