//! `ChangeSeats`: a license's seat count (never below the seats in use).

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::licenses::{self, LicenseFacts};
use crate::domain::ids::LicenseId;
use crate::domain::license;
use crate::domain::permissions::Action;

#[derive(Debug, Clone)]
pub struct ChangeSeats {
    pub license_id: LicenseId,
    pub seats: u32,
}

impl OnEntity<LicenseId> for ChangeSeats {
    const ACTION: Action = Action::ManageLicenses;

    fn entity(&self) -> LicenseId {
        self.license_id
    }
}

impl Command for ChangeSeats {
    type Facts = LicenseFacts;

    fn decide(&self, facts: &LicenseFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = license::decide_change_seats(state, self.seats)?;
        let description = format!(
            "Changed {} from {} to {} seats",
            state.product, state.seats, self.seats
        );
        licenses::decision(facts, self.license_id, description, &events)
    }
}
