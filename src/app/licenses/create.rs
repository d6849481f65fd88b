//! `CreateLicense`: a subscription with a number of seats in an
//! organization.

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, LicenseId};
use crate::domain::license::{self, LicenseState};
use crate::domain::permissions::Action;
use crate::domain::role::AccountKind;
use crate::domain::DomainError;

#[derive(Debug, Clone)]
pub struct CreateLicense {
    pub account_id: AccountId,
    /// The new license's id (the HTTP edge makes a UUID v7).
    pub license_id: LicenseId,
    pub product: String,
    pub seats: u32,
}

/// The organization and the (not yet existing) license.
pub struct Subscribing {
    account: Loaded<AccountState>,
    license: Loaded<LicenseState>,
}

impl Facts<CreateLicense> for Subscribing {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &CreateLicense,
    ) -> Result<Self, LedgerError> {
        Ok(Subscribing {
            account: ledger.load_account(command.account_id).await?,
            license: ledger.load_license(command.license_id).await?,
        })
    }

    fn permission(&self, _: &CreateLicense) -> Result<Permission<'_>, LedgerError> {
        Ok(Permission::to(Action::ManageLicenses, &self.account.state))
    }
}

impl Command for CreateLicense {
    type Facts = Subscribing;

    fn decide(&self, facts: &Subscribing, _: &Authorized) -> Result<Decision, LedgerError> {
        // Asked after the permission: who may not manage licenses here
        // learns nothing about the account.
        if facts.account.state.live_kind()? != AccountKind::Organization {
            return Err(DomainError::NotLicensable.into());
        }
        let events = license::decide_create(
            &facts.license.state,
            self.license_id,
            self.account_id,
            &self.product,
            self.seats,
        )?;
        Ok(Decision::new(
            ActivityType::UpdateLicense,
            format!("Created license {} with {} seats", self.product, self.seats),
        )
        .target("license", self.license_id)
        .change(Change::at(
            self.license_id.stream(),
            facts.license.version,
            &events,
        )?))
    }
}
