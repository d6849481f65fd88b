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

use crate::app::command::{Change, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::facts::InAccount;
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::license::{LicenseEvent, LicenseState};
use crate::domain::permissions::Action;
use crate::domain::user::{self, UserEvent, UserState};
use crate::domain::DomainError;

/// Most users in one assignment.
pub const MAX_USERS_PER_ASSIGNMENT: usize = 1000;

/// An existing license and its organization.
pub type LicenseFacts = InAccount<LicenseState>;

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

/// A command on a license's seats: the license, the users whose seats it
/// changes (their streams are read and appended with the license's), and
/// the action asked in the license's organization.
pub trait OnSeats {
    /// The action asked of the matrix.
    const ACTION: Action;

    /// The license acted on.
    fn license(&self) -> LicenseId;

    /// The users whose seats change, given the license as it stands.
    fn holders(&self, license: &LicenseState) -> Vec<UserId>;

    /// A refusal that needs nothing read (too few or too many users).
    fn refuse_early(&self) -> Result<(), LedgerError> {
        Ok(())
    }
}

impl<C: OnSeats + Sync> Facts<C> for SeatFacts {
    async fn load(ledger: &Ledger, _: &CommandContext, command: &C) -> Result<Self, LedgerError> {
        command.refuse_early()?;
        Self::read(ledger, command.license(), |state| command.holders(state)).await
    }

    fn permission(&self, _: &C) -> Result<Permission<'_>, LedgerError> {
        Ok(self.license.asking(C::ACTION))
    }
}

impl SeatFacts {
    async fn read(
        ledger: &Ledger,
        license_id: LicenseId,
        users: impl Fn(&LicenseState) -> Vec<UserId>,
    ) -> Result<Self, LedgerError> {
        let license = LicenseFacts::read(ledger, license_id).await?;
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
