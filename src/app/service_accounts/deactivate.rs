//! `DeactivateServiceAccount`: every key of it stops working at once; the
//! service account and its history stay readable.

use super::ServiceAccountFacts;
use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::ids::ServiceAccountId;
use crate::domain::permissions::Action;
use crate::domain::service_account;

#[derive(Debug, Clone)]
pub struct DeactivateServiceAccount {
    pub service_account_id: ServiceAccountId,
}

impl OnEntity<ServiceAccountId> for DeactivateServiceAccount {
    const ACTION: Action = Action::ManageServiceAccounts;

    fn entity(&self) -> ServiceAccountId {
        self.service_account_id
    }
}

impl Command for DeactivateServiceAccount {
    type Facts = ServiceAccountFacts;

    fn decide(&self, facts: &ServiceAccountFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = service_account::decide_deactivate(state)?;
        super::decision(
            facts,
            self.service_account_id,
            format!("Deactivated service account {}", state.name),
            &events,
        )
    }
}
