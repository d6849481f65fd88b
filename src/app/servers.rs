//! Server commands: register, update, grant or revoke partner access, server
//! actions, configuration, backups.
//!
//! One rule beyond the permission matrix lives here because it depends on
//! the server's state: a partner's staff act on a customer's server only
//! while the customer's grant stands.

use uuid::Uuid;

use crate::app::context::{ActivityType, CommandContext, GrantBasis};
use crate::app::ledger::{append, Ledger, LedgerError};
use crate::domain::ids::{AccountId, LicenseId, ServerId};
use crate::domain::permissions::{Action, Relation};
use crate::domain::server::{self, ServerEvent, ServerState};
use crate::domain::DomainError;
use crate::store::AppendOutcome;

impl Ledger {
    /// Registers a server. A customer decides on partner access at setup; a
    /// server its partner sets up for the customer starts with access
    /// granted (the customer can revoke it).
    pub async fn register_server(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        server_id: ServerId,
        name: &str,
        location: Option<&str>,
        partner_access: bool,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            account.state.live_kind()?;
            let authorized = self
                .authorize(context, Action::RegisterServer, &account.state)
                .await?;
            let by_partner = authorized
                .grant
                .is_some_and(|g| matches!(g.relation, Relation::Customer { .. }));
            let loaded = self.load_server(server_id).await?;
            let events = server::decide_register(
                &loaded.state,
                server_id,
                account_id,
                name,
                location,
                partner_access || by_partner,
            )?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateServer,
                    format!("Registered server {}", name.trim()),
                )
                .with_target("server", server_id);
            Ok(vec![append(
                server_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    pub async fn update_server(
        &self,
        context: &CommandContext,
        server_id: ServerId,
        name: Option<&str>,
        location: Option<&str>,
        notifications: Option<bool>,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_server(
            context,
            server_id,
            Action::UpdateServer,
            ActivityType::UpdateServer,
            |state| {
                let events = server::decide_update(state, name, location, notifications)?;
                Ok((events, format!("Updated server {}", state.name)))
            },
        )
        .await
    }

    /// The customer grants or revokes its partner's access to a server.
    pub async fn set_partner_access(
        &self,
        context: &CommandContext,
        server_id: ServerId,
        granted: bool,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_server(
            context,
            server_id,
            Action::GrantPartnerAccess,
            ActivityType::UpdateServer,
            |state| {
                let events = server::decide_partner_access(state, granted)?;
                let verb = if granted { "Granted" } else { "Revoked" };
                Ok((
                    events,
                    format!("{verb} partner access to server {}", state.name),
                ))
            },
        )
        .await
    }

    /// Records a server action (control center opened, files uploaded, …).
    pub async fn server_action(
        &self,
        context: &CommandContext,
        server_id: ServerId,
        action: &str,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_server(
            context,
            server_id,
            Action::ServerAction,
            ActivityType::ServerAction,
            |state| {
                Ok((
                    server::decide_action(state, action)?,
                    format!("{} on server {}", action.trim(), state.name),
                ))
            },
        )
        .await
    }

    pub async fn update_server_configuration(
        &self,
        context: &CommandContext,
        server_id: ServerId,
        summary: &str,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_server(
            context,
            server_id,
            Action::UpdateServer,
            ActivityType::UpdateConfiguration,
            |state| {
                Ok((
                    server::decide_configuration(state, summary)?,
                    format!("Updated the configuration of server {}", state.name),
                ))
            },
        )
        .await
    }

    /// Makes a backup; returns its id.
    pub async fn backup_server(
        &self,
        context: &CommandContext,
        server_id: ServerId,
    ) -> Result<(String, AppendOutcome), LedgerError> {
        let backup_id = Uuid::now_v7().to_string();
        let backup_ref = &backup_id;
        let outcome = self
            .on_server(
                context,
                server_id,
                Action::BackupServer,
                ActivityType::BackupMachineData,
                |state| {
                    Ok((
                        server::decide_backup(state, backup_ref.clone())?,
                        format!("Backed up server {}", state.name),
                    ))
                },
            )
            .await?;
        Ok((backup_id, outcome))
    }

    pub async fn restore_server_backup(
        &self,
        context: &CommandContext,
        server_id: ServerId,
        backup_id: &str,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_server(
            context,
            server_id,
            Action::BackupServer,
            ActivityType::BackupMachineData,
            |state| {
                Ok((
                    server::decide_restore_backup(state, backup_id)?,
                    format!("Restored backup {backup_id} of server {}", state.name),
                ))
            },
        )
        .await
    }

    /// Puts a server under one of its organization's licenses, or under
    /// none: financial, so authorized like license management.
    pub async fn change_server_license(
        &self,
        context: &CommandContext,
        server_id: ServerId,
        license_id: Option<LicenseId>,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let (loaded, account_id, authorized) = self
                .authorized_server(context, server_id, Action::ManageLicenses)
                .await?;
            // The licenses concerned, at the versions the decision rests
            // on: a concurrent cancellation of the new one (or any other
            // append to either) makes this append conflict and be decided
            // again.
            let new = match license_id {
                Some(id) => Some((id, self.load_license(id).await?)),
                None => None,
            };
            let old = match loaded.state.license {
                Some(id) if Some(id) != license_id => Some((id, self.load_license(id).await?)),
                _ => None,
            };
            let change =
                server::decide_license(&loaded.state, new.as_ref().map(|(id, l)| (*id, &l.state)))?;
            let description = match &new {
                Some((_, l)) => format!(
                    "Put server {} under license {}",
                    loaded.state.name, l.state.product
                ),
                None => format!("Removed the license of server {}", loaded.state.name),
            };
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateLicense,
                    description,
                )
                .with_target("server", server_id);
            let metadata = match license_id {
                Some(id) => metadata.with_target("license", id),
                None => metadata,
            };
            // The server's stream first: the activity entry is its event.
            let mut appends = vec![append(
                server_id.stream(),
                loaded.version,
                &change.server,
                &metadata,
            )?];
            for (id, event) in &change.licenses {
                let version = [&new, &old]
                    .into_iter()
                    .flatten()
                    .find(|(l, _)| l == id)
                    .map(|(_, l)| l.version)
                    .ok_or(LedgerError::Domain(DomainError::NotFound))?;
                appends.push(append(
                    id.stream(),
                    version,
                    std::slice::from_ref(event),
                    &metadata,
                )?);
            }
            Ok(appends)
        })
        .await
    }

    /// Loads a server and its account, authorizes `action` there and
    /// refuses a partner whose customer has not granted access.
    async fn authorized_server(
        &self,
        context: &CommandContext,
        server_id: ServerId,
        action: Action,
    ) -> Result<
        (
            crate::app::ledger::Loaded<ServerState>,
            AccountId,
            crate::app::ledger::Authorized,
        ),
        LedgerError,
    > {
        let (loaded, access) = self.load_server_noting_access(server_id).await?;
        let account_id = loaded.state.account_id.ok_or(DomainError::NotFound)?;
        let account = self.load_account(account_id).await?;
        let mut authorized = self.authorize(context, action, &account.state).await?;
        let via_partner = authorized
            .grant
            .is_some_and(|g| matches!(g.relation, Relation::Customer { .. }));
        if via_partner && !loaded.state.partner_access {
            return Err(DomainError::PartnerAccessNotGranted.into());
        }
        // The customer's grant in force is part of why it was allowed.
        if let (true, Some(at)) = (via_partner, access) {
            authorized.also_because(GrantBasis::PartnerAccess, at);
        }
        Ok((loaded, account_id, authorized))
    }

    /// Load, authorize (including the partner-access grant), decide, append.
    async fn on_server<D>(
        &self,
        context: &CommandContext,
        server_id: ServerId,
        action: Action,
        activity: ActivityType,
        decide: D,
    ) -> Result<AppendOutcome, LedgerError>
    where
        D: Fn(&ServerState) -> Result<(Vec<ServerEvent>, String), LedgerError>,
    {
        let decide = &decide;
        self.retry(|| async move {
            let (loaded, account_id, authorized) =
                self.authorized_server(context, server_id, action).await?;
            let (events, description) = decide(&loaded.state)?;
            let metadata = authorized
                .metadata(context, account_id, activity, description)
                .with_target("server", server_id);
            Ok(vec![append(
                server_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }
}
