//! `RenameAccount`: its admins, its partner's admins, the platform.

use super::account_decision;
use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError, Loaded};
use crate::domain::account::{self, AccountState};
use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;

/// Gives an account a new name (trimmed; refused if it is the same).
#[derive(Debug, Clone)]
pub struct RenameAccount {
    pub account_id: AccountId,
    pub name: String,
}

impl OnEntity<AccountId> for RenameAccount {
    const ACTION: Action = Action::UpdateAccount;

    fn entity(&self) -> AccountId {
        self.account_id
    }
}

impl Command for RenameAccount {
    type Facts = Loaded<AccountState>;

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
