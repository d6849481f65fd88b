//! Service-account commands: create, change (name, role, customer limit),
//! deactivate, and issue or revoke API keys — each in its own file, all
//! authorized as `ManageServiceAccounts` in the service account's account,
//! and only ever by a person (`Action::needs_a_person`).
//!
//! A key's secret is drawn at the edge of this layer ([`issue_key`]): the
//! command carries only its SHA-256, so the secret is never in the log, and
//! the caller shows it once.

mod change;
mod create;
mod deactivate;
mod keys;

pub use change::ChangeServiceAccount;
pub use create::CreateServiceAccount;
pub use deactivate::DeactivateServiceAccount;
pub use keys::{issue_key, IssuedKey, RevokeApiKey};

use crate::app::command::Decision;
use crate::app::context::ActivityType;
use crate::app::facts::{AccountEntity, InAccount};
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, ServiceAccountId};
use crate::domain::service_account::{ServiceAccountEvent, ServiceAccountState};
use crate::domain::DomainError;
use crate::event::StreamId;

impl AccountEntity for ServiceAccountState {
    type Id = ServiceAccountId;

    async fn read(
        ledger: &Ledger,
        id: ServiceAccountId,
    ) -> Result<(StreamId, Loaded<Self>), LedgerError> {
        Ok((id.stream(), ledger.load_service_account(id).await?))
    }

    fn account(&self) -> Option<AccountId> {
        self.account_id
    }
}

/// An existing service account and its account.
pub type ServiceAccountFacts = InAccount<ServiceAccountState>;

fn decision(
    facts: &ServiceAccountFacts,
    id: ServiceAccountId,
    description: String,
    events: &[ServiceAccountEvent],
) -> Result<Decision, LedgerError> {
    Ok(facts
        .decision(
            ActivityType::UpdateServiceAccounts,
            description,
            ("service_account", id.to_string()),
            events,
        )?
        .names_nobody())
}

/// The accounts named as a customer limit, read now.
async fn read_customers(
    ledger: &Ledger,
    customers: &[AccountId],
) -> Result<Vec<AccountState>, LedgerError> {
    let mut states = Vec::with_capacity(customers.len());
    for customer in customers {
        states.push(ledger.load_account(*customer).await?.state);
    }
    Ok(states)
}

/// Every account named is a customer of `partner`.
fn customers_are_its_own(
    customers: &[AccountState],
    partner: Option<AccountId>,
) -> Result<(), DomainError> {
    let partner = partner.ok_or(DomainError::AccountNotFound)?;
    if customers.iter().all(|c| c.is_customer_of(partner)) {
        Ok(())
    } else {
        Err(DomainError::NotACustomer)
    }
}
