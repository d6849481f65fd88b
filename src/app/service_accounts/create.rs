//! `CreateServiceAccount`: a machine identity in an account, with one of
//! the account's roles and, on a partner, an optional customer limit.

use super::{customers_are_its_own, read_customers};
use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, ServiceAccountId};
use crate::domain::permissions::Action;
use crate::domain::role::Role;
use crate::domain::service_account::{self, ServiceAccountState};

#[derive(Debug, Clone)]
pub struct CreateServiceAccount {
    pub account_id: AccountId,
    /// The new service account's id (the HTTP edge makes a UUID v7).
    pub service_account_id: ServiceAccountId,
    pub name: String,
    pub role: Role,
    /// On a partner: the customers it works for (empty: all).
    pub customers: Vec<AccountId>,
}

/// The account, the (not yet existing) service account, and the customers
/// named.
pub struct Creation {
    account: Loaded<AccountState>,
    service_account: Loaded<ServiceAccountState>,
    customers: Vec<AccountState>,
}

impl Facts<CreateServiceAccount> for Creation {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &CreateServiceAccount,
    ) -> Result<Self, LedgerError> {
        Ok(Creation {
            account: ledger.load_account(command.account_id).await?,
            service_account: ledger
                .load_service_account(command.service_account_id)
                .await?,
            customers: read_customers(ledger, &command.customers).await?,
        })
    }

    fn permission(&self, _: &CreateServiceAccount) -> Result<Permission<'_>, LedgerError> {
        self.account.state.live_kind()?;
        Ok(Permission::to(
            Action::ManageServiceAccounts,
            &self.account.state,
        ))
    }
}

impl Command for CreateServiceAccount {
    type Facts = Creation;

    fn decide(&self, facts: &Creation, _: &Authorized) -> Result<Decision, LedgerError> {
        let kind = facts.account.state.live_kind()?;
        customers_are_its_own(&facts.customers, facts.account.state.account_id)?;
        let events = service_account::decide_create(
            &facts.service_account.state,
            self.service_account_id,
            self.account_id,
            kind,
            &self.name,
            self.role,
            &self.customers,
        )?;
        Ok(Decision::new(
            ActivityType::UpdateServiceAccounts,
            format!(
                "Created service account {} with role {}",
                self.name.trim(),
                self.role
            ),
        )
        .names_nobody()
        .target("service_account", self.service_account_id)
        .change(Change::at(
            self.service_account_id.stream(),
            facts.service_account.version,
            &events,
        )?))
    }
}
