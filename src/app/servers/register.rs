//! `RegisterServer`: a new server in an organization.
//!
//! A customer decides on partner access at setup; a server its partner
//! sets up for the customer starts with access granted (the customer can
//! revoke it).

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, ServerId};
use crate::domain::permissions::Action;
use crate::domain::server::{self, ServerState};

#[derive(Debug, Clone)]
pub struct RegisterServer {
    pub account_id: AccountId,
    /// The new server's id (the HTTP edge makes a UUID v7).
    pub server_id: ServerId,
    pub name: String,
    pub location: Option<String>,
    /// The customer's decision at setup.
    pub partner_access: bool,
}

/// The organization and the (not yet existing) server.
pub struct Registration {
    account: Loaded<AccountState>,
    server: Loaded<ServerState>,
}

impl Facts<RegisterServer> for Registration {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &RegisterServer,
    ) -> Result<Self, LedgerError> {
        Ok(Registration {
            account: ledger.load_account(command.account_id).await?,
            server: ledger.load_server(command.server_id).await?,
        })
    }

    fn permission(&self, _: &RegisterServer) -> Result<Permission<'_>, LedgerError> {
        self.account.state.live_kind()?;
        Ok(Permission::to(Action::RegisterServer, &self.account.state))
    }
}

impl Command for RegisterServer {
    type Facts = Registration;

    fn decide(&self, facts: &Registration, actor: &Authorized) -> Result<Decision, LedgerError> {
        let events = server::decide_register(
            &facts.server.state,
            self.server_id,
            self.account_id,
            &self.name,
            self.location.as_deref(),
            self.partner_access || actor.via_partner(),
        )?;
        Ok(Decision::new(
            ActivityType::UpdateServer,
            format!("Registered server {}", self.name.trim()),
        )
        .target("server", self.server_id)
        .change(Change::at(
            self.server_id.stream(),
            facts.server.version,
            &events,
        )?))
    }
}
