//! `RenameAccount`: its admins, its partner's admins, the platform.

use super::account_decision;
use crate::app::command::{Command, Decision, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::{self, AccountState};
use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;

/// Gives an account a new name (trimmed; refused if it is the same).
#[derive(Debug, Clone)]
pub struct RenameAccount {
    pub account_id: AccountId,
    pub name: String,
}

impl Command for RenameAccount {
    type Facts = Loaded<AccountState>;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<Self::Facts, LedgerError> {
        ledger.load_account(self.account_id).await
    }

    fn permission<'f>(&self, account: &'f Self::Facts) -> Result<Permission<'f>, LedgerError> {
        Ok(Permission::to(Action::UpdateAccount, &account.state))
    }

    fn decide(&self, account: &Self::Facts, _: &Authorized) -> Result<Decision, LedgerError> {
        let events = account::decide_rename(&account.state, &self.name)?;
        account_decision(
            self.account_id,
            account,
            ActivityType::UpdateOrganization,
            format!("Renamed {} to {}", account.state.name, self.name.trim()),
            &events,
        )
    }
}
