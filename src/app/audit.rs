//! What auditors may see, decided once per request: the accounts whose
//! activity, history and state the caller may read.
//!
//! The same permission matrix as every command answers it
//! (`Action::ViewActivityLog` per relation), computed from the caller's role
//! and assignments once rather than per account, so a partner's auditor with
//! thousands of customers costs one user read.

use crate::app::context::CommandContext;
use crate::app::ledger::{Ledger, LedgerError};
use crate::domain::ids::AccountId;
use crate::domain::permissions::{self, Action, Relation};
use crate::domain::role::AccountKind;
pub use crate::domain::visibility::Visibility;

impl Ledger {
    /// What `context`'s actor may audit for `action` (a read action such as
    /// `ViewActivityLog`); `customers` are the customer organizations of
    /// the actor's account (from the read model). Denied when nothing.
    pub async fn visibility(
        &self,
        context: &CommandContext,
        action: Action,
        customers: &[AccountId],
    ) -> Result<Visibility, LedgerError> {
        let Some(acting) = self.acting(context).await? else {
            return Ok(Visibility::All);
        };
        let (account_id, role) = (acting.account, acting.role);
        let own = self.load_account(account_id).await?.state;
        let own_allowed = permissions::authorize(role, action, Relation::Own);
        if own.kind == Some(AccountKind::Platform)
            && permissions::authorize(role, action, Relation::Platform).is_ok()
        {
            return Ok(Visibility::All);
        }
        let mut accounts = Vec::new();
        if own_allowed.is_ok() {
            accounts.push(account_id);
        }
        for customer in customers.iter().filter(|c| acting.reaches(**c)) {
            let relation = Relation::Customer {
                assigned: acting.works_for(*customer),
            };
            if permissions::authorize(role, action, relation).is_ok() {
                accounts.push(*customer);
            }
        }
        if accounts.is_empty() {
            own_allowed?;
        }
        Ok(Visibility::Accounts(accounts))
    }
}
