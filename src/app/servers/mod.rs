//! Server commands: register, update, grant or revoke partner access, server
//! actions, configuration, backups, the license a server runs under, and
//! decommissioning (removing the product service).
//!
//! One rule beyond the permission matrix lives here because it depends on
//! the server's state: a partner's staff act on a customer's server only
//! while the customer's grant stands. [`ServerFacts`] carries that grant to
//! the runner (see [`Permission::on_server`]), so every command on an
//! existing server asks the same question.

mod action;
mod backup;
mod configuration;
mod decommission;
mod license;
mod partner_access;
mod register;
mod update;

pub use action::RecordServerAction;
pub use backup::{BackUpServer, RestoreServerBackup};
pub use configuration::UpdateServerConfiguration;
pub use decommission::DecommissionServer;
pub use license::ChangeServerLicense;
pub use partner_access::{ExpirePartnerAccess, SetPartnerAccess};
pub use register::RegisterServer;
pub use update::UpdateServer;

use crate::app::command::{Decision, Facts, OnEntity, PartnerAccess, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::facts::InAccount;
use crate::app::ledger::{Ledger, LedgerError};
use crate::domain::ids::ServerId;
use crate::domain::permissions::Action;
use crate::domain::server::{ServerEvent, ServerState};
use crate::domain::DomainError;

/// What a command on an existing server rests on: the server in its
/// account (the shape every entity of an account has) and its partner
/// access as it stands.
pub struct ServerFacts {
    server: InAccount<ServerState>,
    access: PartnerAccess,
}

/// Every command on an existing server: the server is read with its
/// account and grant, and the command's action is asked under that grant.
impl<C: OnEntity<ServerId> + Sync> Facts<C> for ServerFacts {
    async fn load(ledger: &Ledger, _: &CommandContext, command: &C) -> Result<Self, LedgerError> {
        Self::read(ledger, command.entity()).await
    }

    fn permission(&self, _: &C) -> Result<Permission<'_>, LedgerError> {
        Ok(self.asking(C::ACTION))
    }
}

impl ServerFacts {
    /// Reads the server and its account; an unknown server is not found.
    async fn read(ledger: &Ledger, server_id: ServerId) -> Result<Self, LedgerError> {
        let (server, decided_by) = ledger.load_server_noting_access(server_id).await?;
        let access = PartnerAccess {
            // As it stands now: a grant whose end passed is no grant.
            granted: server.state.grant_stands(chrono::Utc::now()),
            decided_by,
        };
        let server = InAccount::load(ledger, server_id.stream(), server, |s| s.account_id).await?;
        Ok(Self { server, access })
    }

    /// The server as it stands.
    fn state(&self) -> &ServerState {
        self.server.state()
    }

    /// `action` in the server's account, under the customer's grant.
    fn asking(&self, action: Action) -> Permission<'_> {
        self.server.asking(action).on_server(self.access)
    }

    /// `events` on the server's stream, explained as `activity`.
    fn decision(
        &self,
        activity: ActivityType,
        description: String,
        events: &[ServerEvent],
    ) -> Result<Decision, LedgerError> {
        let server_id = self.state().server_id.ok_or(DomainError::NotFound)?;
        self.server.decision(
            activity,
            description,
            ("server", server_id.to_string()),
            events,
        )
    }
}
