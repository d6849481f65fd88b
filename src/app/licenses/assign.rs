//! `AssignLicense` and `ReleaseLicense`: seats for several users at once —
//! all of them or none — and their release.

use crate::app::command::{Command, Decision};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::licenses::OnSeats;
use crate::app::licenses::{self, SeatFacts, MAX_USERS_PER_ASSIGNMENT};
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::license::LicenseState;
use crate::domain::license::{self, LicenseEvent, ReleaseReason};
use crate::domain::permissions::Action;
use crate::domain::user::UserEvent;
use crate::domain::DomainError;

#[derive(Debug, Clone)]
pub struct AssignLicense {
    pub license_id: LicenseId,
    /// 1 to [`MAX_USERS_PER_ASSIGNMENT`] active members of the license's
    /// organization.
    pub users: Vec<UserId>,
}

impl OnSeats for AssignLicense {
    const ACTION: Action = Action::AssignLicenses;

    fn license(&self) -> LicenseId {
        self.license_id
    }

    fn holders(&self, _: &LicenseState) -> Vec<UserId> {
        self.users.clone()
    }

    fn refuse_early(&self) -> Result<(), LedgerError> {
        if self.users.is_empty() || self.users.len() > MAX_USERS_PER_ASSIGNMENT {
            return Err(DomainError::NoChange.into());
        }
        Ok(())
    }
}

impl Command for AssignLicense {
    type Facts = SeatFacts;

    fn decide(&self, facts: &SeatFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.license.state();
        let events = license::decide_assign(state, &self.users)?;
        let assigned = match events.first() {
            Some(LicenseEvent::Assigned { user_ids }) => user_ids.clone(),
            _ => vec![],
        };
        let description = format!("Assigned {} to {} users", state.product, assigned.len());
        let decision = licenses::decision(&facts.license, self.license_id, description, &events)?;
        let event = UserEvent::LicenseAssigned {
            license_id: self.license_id,
        };
        facts.on_users(decision, &assigned, event, true)
    }
}

#[derive(Debug, Clone)]
pub struct ReleaseLicense {
    pub license_id: LicenseId,
    pub users: Vec<UserId>,
}

impl OnSeats for ReleaseLicense {
    const ACTION: Action = Action::AssignLicenses;

    fn license(&self) -> LicenseId {
        self.license_id
    }

    fn holders(&self, _: &LicenseState) -> Vec<UserId> {
        self.users.clone()
    }
}

impl Command for ReleaseLicense {
    type Facts = SeatFacts;

    fn decide(&self, facts: &SeatFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.license.state();
        let events = license::decide_release(state, &self.users, ReleaseReason::Revoked);
        let Some(LicenseEvent::Released { user_ids, .. }) = events.first() else {
            return Err(DomainError::NoChange.into());
        };
        let released = user_ids.clone();
        let description = format!("Released {} from {} users", state.product, released.len());
        let decision = licenses::decision(&facts.license, self.license_id, description, &events)?;
        let event = UserEvent::LicenseReleased {
            license_id: self.license_id,
        };
        facts.on_users(decision, &released, event, false)
    }
}
