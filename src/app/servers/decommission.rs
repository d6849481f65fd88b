//! `DecommissionServer`: removes a product service. Admin and Regular may
//! ("add, remove or change product services"), Support and Read-Only may
//! not. The server keeps its history; its license, if any, is detached in
//! the same append (the license's stream records it, as a license change
//! would), and every later command on it answers `server_decommissioned`.

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::app::servers::ServerFacts;
use crate::domain::ids::{LicenseId, ServerId};
use crate::domain::license::LicenseState;
use crate::domain::permissions::Action;
use crate::domain::server;

#[derive(Debug, Clone)]
pub struct DecommissionServer {
    pub server_id: ServerId,
}

/// The server, and the license it runs under at the version the
/// detachment rests on.
pub struct DecommissionFacts {
    server: ServerFacts,
    license: Option<(LicenseId, Loaded<LicenseState>)>,
}

impl Facts<DecommissionServer> for DecommissionFacts {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &DecommissionServer,
    ) -> Result<Self, LedgerError> {
        let server = ServerFacts::read(ledger, command.server_id).await?;
        let license = match server.state().license {
            Some(id) => Some((id, ledger.load_license(id).await?)),
            None => None,
        };
        Ok(Self { server, license })
    }

    fn permission(&self, _: &DecommissionServer) -> Result<Permission<'_>, LedgerError> {
        Ok(self.server.asking(Action::DecommissionServer))
    }
}

impl Command for DecommissionServer {
    type Facts = DecommissionFacts;

    fn decide(&self, facts: &DecommissionFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.server.state();
        let change = server::decide_decommission(state)?;
        let mut decision = facts.server.decision(
            ActivityType::DecommissionServer,
            format!("Decommissioned server {}", state.name),
            &change.server,
        )?;
        for (id, event) in &change.licenses {
            if let Some((_, license)) = facts.license.as_ref().filter(|(l, _)| l == id) {
                decision = decision.target("license", id).change(Change::at(
                    id.stream(),
                    license.version,
                    std::slice::from_ref(event),
                )?);
            }
        }
        Ok(decision)
    }
}
