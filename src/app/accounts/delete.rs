//! `DeleteAccount`: an organization or partner is closed; its users can no
//! longer sign in. The platform account is permanent.

use super::account_decision;
use crate::app::command::{Command, Decision, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::{self, AccountState};
use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;

/// Deletes an organization or a partner.
#[derive(Debug, Clone)]
pub struct DeleteAccount {
    pub account_id: AccountId,
}

impl Command for DeleteAccount {
    type Facts = Loaded<AccountState>;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<Self::Facts, LedgerError> {
        ledger.load_account(self.account_id).await
    }

    fn permission<'f>(&self, account: &'f Self::Facts) -> Result<Permission<'f>, LedgerError> {
        Ok(Permission::to(Action::DeleteOrganization, &account.state))
    }

    fn decide(&self, account: &Self::Facts, _: &Authorized) -> Result<Decision, LedgerError> {
        let events = account::decide_delete(&account.state)?;
        account_decision(
            self.account_id,
            account,
            ActivityType::DeleteOrganization,
            format!("Deleted {}", account.state.name),
            &events,
        )
    }
}
