//! `CancelLicense`: ends a subscription; every seat is released.

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::licenses::{self, SeatFacts};
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::license;
use crate::domain::permissions::Action;
use crate::domain::user::UserEvent;

#[derive(Debug, Clone)]
pub struct CancelLicense {
    pub license_id: LicenseId,
}

impl Command for CancelLicense {
    type Facts = SeatFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<SeatFacts, LedgerError> {
        SeatFacts::load(ledger, self.license_id, |state| {
            state.assigned.iter().copied().collect()
        })
        .await
    }

    fn permission<'f>(&self, facts: &'f SeatFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.license.permission(Action::ManageLicenses))
    }

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
