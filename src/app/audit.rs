//! What auditors may see, decided once per request: the accounts whose
//! activity, history and state the caller may read.
//!
//! The same permission matrix as every command answers it
//! (`Action::ViewActivityLog` per relation), computed from the caller's role
//! and assignments once rather than per account, so a partner's auditor with
//! thousands of customers costs one user read.

use crate::app::context::{Actor, CommandContext};
use crate::app::ledger::{Ledger, LedgerError};
use crate::domain::ids::AccountId;
use crate::domain::permissions::{self, Action, Relation};
use crate::domain::role::AccountKind;
use crate::domain::user;
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
        let Actor::User(actor_id) = context.actor() else {
            return Ok(Visibility::All);
        };
        let actor = self.load_user(actor_id).await?.state;
        let (account_id, role) = actor.active().map_err(|_| LedgerError::Unauthenticated)?;
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
        for customer in customers {
            let relation = Relation::Customer {
                assigned: user::works_for(&actor, *customer),
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
