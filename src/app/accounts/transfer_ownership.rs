//! `TransferOwnership`: the owner (primary admin) hands the account to
//! another of its active admins. Only the owner may, so the actor must be
//! a person.

use super::account_decision;
use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError, Loaded};
use crate::domain::account::{self, AccountState};
use crate::domain::ids::{AccountId, UserId};
use crate::domain::permissions::Action;
use crate::domain::DomainError;

/// Moves ownership of `account_id` to the admin `to`.
#[derive(Debug, Clone)]
pub struct TransferOwnership {
    pub account_id: AccountId,
    pub to: UserId,
}

impl OnEntity<AccountId> for TransferOwnership {
    const ACTION: Action = Action::UpdateAccount;

    fn entity(&self) -> AccountId {
        self.account_id
    }
}

impl Command for TransferOwnership {
    type Facts = Loaded<AccountState>;

    fn decide(&self, account: &Self::Facts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let by = actor.user.ok_or(DomainError::OnlyOwnerTransfers)?;
        let events = account::decide_transfer_ownership(&account.state, by, self.to)?;
        Ok(account_decision(
            self.account_id,
            account,
            ActivityType::UpdateUserPermissions,
            format!(
                "Transferred ownership of {} to user {}",
                account.state.name, self.to
            ),
            &events,
        )?
        .target("user", self.to))
    }
}
