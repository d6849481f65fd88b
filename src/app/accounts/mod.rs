//! Account commands: create an account, rename it, delete it, transfer its
//! ownership.
//!
//! An account is its own aggregate (its stream holds its name, kind,
//! parent, admins and owner), so each command here reads that one stream
//! and asks the matrix in it — except creating one, which is asked in the
//! parent (who may bring in tenants) and recorded in the new account.

mod create;
mod delete;
mod rename;
mod transfer_ownership;

pub use create::CreateAccount;
pub use delete::DeleteAccount;
pub use rename::RenameAccount;
pub use transfer_ownership::TransferOwnership;

use serde::Serialize;

use crate::app::command::{Change, Decision, Facts, OnEntity, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::AccountId;

/// Every command on an existing account reads its stream and asks the
/// matrix in it.
impl<C: OnEntity<AccountId> + Sync> Facts<C> for Loaded<AccountState> {
    async fn load(ledger: &Ledger, _: &CommandContext, command: &C) -> Result<Self, LedgerError> {
        ledger.load_account(command.entity()).await
    }

    fn permission(&self, _: &C) -> Result<Permission<'_>, LedgerError> {
        Ok(Permission::to(C::ACTION, &self.state))
    }
}

/// `events` on the account's stream, explained as `activity` and targeting
/// the account.
fn account_decision<E: Serialize>(
    account_id: AccountId,
    account: &Loaded<AccountState>,
    activity: ActivityType,
    description: String,
    events: &[E],
) -> Result<Decision, LedgerError> {
    Ok(Decision::new(activity, description)
        .target("account", account_id)
        .change(Change::at(account_id.stream(), account.version, events)?))
}
