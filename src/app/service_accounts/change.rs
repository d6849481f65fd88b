//! `ChangeServiceAccount`: a new name, role or customer limit. A new role
//! takes effect on the key's next request (authorization reads the
//! service account's stream each time).

use super::{customers_are_its_own, read_customers, ServiceAccountFacts};
use crate::app::command::{Command, Decision, Facts, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, ServiceAccountId};
use crate::domain::permissions::Action;
use crate::domain::role::Role;
use crate::domain::service_account::{self, ChangeRequest};

#[derive(Debug, Clone)]
pub struct ChangeServiceAccount {
    pub service_account_id: ServiceAccountId,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub customers: Option<Vec<AccountId>>,
}

/// The service account, its account, and the customers named.
pub struct Changing {
    service_account: ServiceAccountFacts,
    customers: Vec<AccountState>,
}

impl Facts<ChangeServiceAccount> for Changing {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &ChangeServiceAccount,
    ) -> Result<Self, LedgerError> {
        Ok(Changing {
            service_account: ServiceAccountFacts::read(ledger, command.service_account_id).await?,
            customers: read_customers(ledger, command.customers.as_deref().unwrap_or_default())
                .await?,
        })
    }

    fn permission(&self, _: &ChangeServiceAccount) -> Result<Permission<'_>, LedgerError> {
        Ok(self.service_account.asking(Action::ManageServiceAccounts))
    }
}

impl Command for ChangeServiceAccount {
    type Facts = Changing;

    fn decide(&self, facts: &Changing, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.service_account.state();
        let account = &facts.service_account.account.state;
        customers_are_its_own(&facts.customers, account.account_id)?;
        let events = service_account::decide_change(
            state,
            account.live_kind()?,
            ChangeRequest {
                name: self.name.as_deref(),
                role: self.role,
                customers: self.customers.as_deref(),
            },
        )?;
        super::decision(
            &facts.service_account,
            self.service_account_id,
            format!("Changed service account {}", state.name),
            &events,
        )
    }
}
