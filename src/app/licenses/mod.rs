//! License commands: create a subscription, change its seats, assign and
//! release seats for many users at once, cancel — one file per command.
//!
//! Every assignment appends to the license's stream (which guards the seat
//! count) and to each user's stream (so the user knows their licenses), in
//! one atomic append with the versions read.

mod assign;
mod cancel;
mod create;
mod seats;

pub use assign::{AssignLicense, ReleaseLicense};
pub use cancel::CancelLicense;
pub use create::CreateLicense;
pub use seats::ChangeSeats;

use std::collections::BTreeMap;

use crate::app::command::{Change, Decision};
use crate::app::context::ActivityType;
use crate::app::facts::InAccount;
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::license::{LicenseEvent, LicenseState};
use crate::domain::user::{self, UserEvent, UserState};
use crate::domain::DomainError;

/// Most users in one assignment.
pub const MAX_USERS_PER_ASSIGNMENT: usize = 1000;

/// An existing license and its organization.
pub type LicenseFacts = InAccount<LicenseState>;

async fn load(ledger: &Ledger, license_id: LicenseId) -> Result<LicenseFacts, LedgerError> {
    let license = ledger.load_license(license_id).await?;
    InAccount::load(ledger, license_id.stream(), license, |l| l.account_id).await
}

fn decision(
    facts: &LicenseFacts,
    license_id: LicenseId,
    description: String,
    events: &[LicenseEvent],
) -> Result<Decision, LedgerError> {
    facts.decision(
        ActivityType::UpdateLicense,
        description,
        ("license", license_id.to_string()),
        events,
    )
}

/// A license and the users whose seats a command may change, each at the
/// version read.
pub struct SeatFacts {
    license: LicenseFacts,
    users: BTreeMap<UserId, Loaded<UserState>>,
}

impl SeatFacts {
    async fn load(
        ledger: &Ledger,
        license_id: LicenseId,
        users: impl Fn(&LicenseState) -> Vec<UserId>,
    ) -> Result<Self, LedgerError> {
        let license = load(ledger, license_id).await?;
        let mut loaded = BTreeMap::new();
        for user_id in users(license.state()) {
            if let std::collections::btree_map::Entry::Vacant(slot) = loaded.entry(user_id) {
                slot.insert(ledger.load_user(user_id).await?);
            }
        }
        Ok(Self {
            license,
            users: loaded,
        })
    }

    /// `event` on the stream of each of `users` who is a member of the
    /// organization (and active, when `must_be_active`: else the command
    /// is refused).
    fn on_users(
        &self,
        mut decision: Decision,
        users: &[UserId],
        event: UserEvent,
        must_be_active: bool,
    ) -> Result<Decision, LedgerError> {
        let account = self.license.state().account_id;
        let mut changes = BTreeMap::new();
        for user_id in users {
            let loaded = self.users.get(user_id).ok_or(DomainError::NotFound)?;
            let member = loaded.state.account_id == account;
            let active = loaded.state.status == user::Status::Active;
            if !member || (must_be_active && !active) {
                if must_be_active {
                    return Err(DomainError::NotLicensable.into());
                }
                continue;
            }
            changes.insert(
                *user_id,
                Change::at(
                    user_id.stream(),
                    loaded.version,
                    std::slice::from_ref(&event),
                )?,
            );
        }
        for change in changes.into_values() {
            decision = decision.change(change);
        }
        Ok(decision)
    }
}
