//! `AssignCustomers`: the customers a partner's staff member works for
//! (none: all of the partner's customers). Each must be a customer of the
//! staff member's partner.

use super::{Reads, UserFacts};
use crate::app::command::{Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, UserId};
use crate::domain::permissions::Action;
use crate::domain::user;
use crate::domain::DomainError;

/// Limits `user_id` to `customers` (empty: all).
#[derive(Debug, Clone)]
pub struct AssignCustomers {
    pub user_id: UserId,
    pub customers: Vec<AccountId>,
}

/// The staff member's facts and the customers named, as they stand.
pub struct AssignmentFacts {
    user: UserFacts,
    customers: Vec<AccountState>,
}

impl Facts<AssignCustomers> for AssignmentFacts {
    async fn load(
        ledger: &Ledger,
        context: &CommandContext,
        command: &AssignCustomers,
    ) -> Result<Self, LedgerError> {
        let user = UserFacts::read(ledger, context, command.user_id, Reads::default()).await?;
        let mut customers = Vec::with_capacity(command.customers.len());
        for customer in &command.customers {
            customers.push(ledger.load_account(*customer).await?.state);
        }
        Ok(AssignmentFacts { user, customers })
    }

    fn permission(&self, _: &AssignCustomers) -> Result<Permission<'_>, LedgerError> {
        Ok(self.user.asking(Action::AssignCustomers))
    }
}

impl Command for AssignCustomers {
    type Facts = AssignmentFacts;

    fn decide(&self, facts: &AssignmentFacts, actor: &Authorized) -> Result<Decision, LedgerError> {
        let user = &facts.user;
        let partner = user.state().account_id.ok_or(DomainError::UserNotFound)?;
        if !facts.customers.iter().all(|c| c.is_customer_of(partner)) {
            return Err(DomainError::NotACustomer.into());
        }
        let decided = user::decide_assign_customers(
            user.state(),
            user.account(),
            &self.customers,
            actor.user,
        )?;
        user.decision(
            ActivityType::UpdateUserPermissions,
            format!(
                "Assigned {} customers to {}",
                self.customers.len(),
                user.shown()
            ),
            decided,
        )
    }
}
