//! `BackUpServer` and `RestoreServerBackup`: a server's machine data saved
//! under an id the caller chose, and restored from one of them.

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError};
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

impl Command for BackUpServer {
    type Facts = ServerFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<ServerFacts, LedgerError> {
        ServerFacts::load(ledger, self.server_id).await
    }

    fn permission<'f>(&self, facts: &'f ServerFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.permission(Action::BackupServer))
    }

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

impl Command for RestoreServerBackup {
    type Facts = ServerFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<ServerFacts, LedgerError> {
        ServerFacts::load(ledger, self.server_id).await
    }

    fn permission<'f>(&self, facts: &'f ServerFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.permission(Action::BackupServer))
    }

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
