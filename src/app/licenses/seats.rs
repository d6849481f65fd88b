//! `ChangeSeats`: a license's seat count (never below the seats in use).

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::licenses::{self, LicenseFacts};
use crate::domain::ids::LicenseId;
use crate::domain::license;
use crate::domain::permissions::Action;

#[derive(Debug, Clone)]
pub struct ChangeSeats {
    pub license_id: LicenseId,
    pub seats: u32,
}

impl Command for ChangeSeats {
    type Facts = LicenseFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<LicenseFacts, LedgerError> {
        licenses::load(ledger, self.license_id).await
    }

    fn permission<'f>(&self, facts: &'f LicenseFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.permission(Action::ManageLicenses))
    }

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
