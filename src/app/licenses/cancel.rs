//! `CancelLicense`: ends a subscription; every seat is released.

use crate::app::command::{Command, Decision};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::licenses::OnSeats;
use crate::app::licenses::{self, SeatFacts};
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::license;
use crate::domain::license::LicenseState;
use crate::domain::permissions::Action;
use crate::domain::user::UserEvent;

#[derive(Debug, Clone)]
pub struct CancelLicense {
    pub license_id: LicenseId,
}

impl OnSeats for CancelLicense {
    const ACTION: Action = Action::ManageLicenses;

    fn license(&self) -> LicenseId {
        self.license_id
    }

    fn holders(&self, state: &LicenseState) -> Vec<UserId> {
        state.assigned.iter().copied().collect()
    }
}

impl Command for CancelLicense {
    type Facts = SeatFacts;

    fn decide(&self, facts: &SeatFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.license.state();
        let holders: Vec<UserId> = state.assigned.iter().copied().collect();
        let events = license::decide_cancel(state)?;
        let description = format!("Cancelled license {}", state.product);
        let decision = licenses::decision(&facts.license, self.license_id, description, &events)?;
        let event = UserEvent::LicenseReleased {
            license_id: self.license_id,
        };
        facts.on_users(decision, &holders, event, false)
    }
}
