//! `DeleteAccount`: an organization or partner is closed; its users can no
//! longer sign in. The platform account is permanent.

use super::account_decision;
use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError, Loaded};
use crate::domain::account::{self, AccountState};
use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;

/// Deletes an organization or a partner.
#[derive(Debug, Clone)]
pub struct DeleteAccount {
    pub account_id: AccountId,
}

impl OnEntity<AccountId> for DeleteAccount {
    const ACTION: Action = Action::DeleteOrganization;

    fn entity(&self) -> AccountId {
        self.account_id
    }
}

impl Command for DeleteAccount {
    type Facts = Loaded<AccountState>;

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
