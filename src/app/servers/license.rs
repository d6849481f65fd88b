//! `ChangeServerLicense`: puts a server under one of its organization's
//! licenses, or under none. Financial, so authorized like license
//! management.

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::app::servers::ServerFacts;
use crate::domain::ids::{LicenseId, ServerId};
use crate::domain::license::LicenseState;
use crate::domain::permissions::Action;
use crate::domain::server;
use crate::domain::DomainError;

#[derive(Debug, Clone)]
pub struct ChangeServerLicense {
    pub server_id: ServerId,
    /// `None`: the server runs under no license.
    pub license_id: Option<LicenseId>,
}

/// The server and the licenses concerned, at the versions the decision
/// rests on: a concurrent cancellation of the new one (or any other append
/// to either) makes this append conflict and be decided again.
pub struct LicenseFacts {
    server: ServerFacts,
    new: Option<(LicenseId, Loaded<LicenseState>)>,
    old: Option<(LicenseId, Loaded<LicenseState>)>,
}

impl Facts<ChangeServerLicense> for LicenseFacts {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &ChangeServerLicense,
    ) -> Result<Self, LedgerError> {
        let server = ServerFacts::read(ledger, command.server_id).await?;
        let new = match command.license_id {
            Some(id) => Some((id, ledger.load_license(id).await?)),
            None => None,
        };
        let old = match server.state().license {
            Some(id) if Some(id) != command.license_id => {
                Some((id, ledger.load_license(id).await?))
            }
            _ => None,
        };
        Ok(LicenseFacts { server, new, old })
    }

    fn permission(&self, _: &ChangeServerLicense) -> Result<Permission<'_>, LedgerError> {
        Ok(self.server.asking(Action::ManageLicenses))
    }
}

impl Command for ChangeServerLicense {
    type Facts = LicenseFacts;

    fn decide(&self, facts: &LicenseFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.server.state();
        let change =
            server::decide_license(state, facts.new.as_ref().map(|(id, l)| (*id, &l.state)))?;
        let description = match &facts.new {
            Some((_, l)) => format!(
                "Put server {} under license {}",
                state.name, l.state.product
            ),
            None => format!("Removed the license of server {}", state.name),
        };
        // The server's stream first: the activity entry is its event.
        let mut decision =
            facts
                .server
                .decision(ActivityType::UpdateLicense, description, &change.server)?;
        if let Some(id) = self.license_id {
            decision = decision.target("license", id);
        }
        for (id, event) in &change.licenses {
            let version = [&facts.new, &facts.old]
                .into_iter()
                .flatten()
                .find(|(l, _)| l == id)
                .map(|(_, l)| l.version)
                .ok_or(DomainError::NotFound)?;
            decision = decision.change(Change::at(
                id.stream(),
                version,
                std::slice::from_ref(event),
            )?);
        }
        Ok(decision)
    }
}
