//! `CreateLicense`: a subscription with a number of seats in an
//! organization.

use crate::app::command::{Change, Command, Decision, Permission};
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

impl Command for CreateLicense {
    type Facts = Subscribing;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<Subscribing, LedgerError> {
        Ok(Subscribing {
            account: ledger.load_account(self.account_id).await?,
            license: ledger.load_license(self.license_id).await?,
        })
    }

    fn permission<'f>(&self, facts: &'f Subscribing) -> Result<Permission<'f>, LedgerError> {
        Ok(Permission::to(Action::ManageLicenses, &facts.account.state))
    }

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
