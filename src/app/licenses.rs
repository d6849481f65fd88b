//! License commands: create a subscription, change its seats, assign and
//! release seats for many users at once, cancel.
//!
//! Every assignment appends to the license's stream (which guards the seat
//! count) and to each user's stream (so the user knows their licenses), in
//! one atomic append with the versions read.

use std::collections::BTreeMap;

use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{append, Ledger, LedgerError};
use crate::domain::ids::{AccountId, LicenseId, UserId};
use crate::domain::license::{self, LicenseEvent, ReleaseReason};
use crate::domain::permissions::Action;
use crate::domain::role::AccountKind;
use crate::domain::user::{self, UserEvent};
use crate::domain::DomainError;
use crate::store::{AppendOutcome, StreamAppend};

/// Most users in one assignment.
pub const MAX_USERS_PER_ASSIGNMENT: usize = 1000;

impl Ledger {
    /// Creates a license (subscription) with `seats` in an organization.
    pub async fn create_license(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        license_id: LicenseId,
        product: &str,
        seats: u32,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            let authorized = self
                .authorize(context, Action::ManageLicenses, &account.state)
                .await?;
            if account.state.live_kind()? != AccountKind::Organization {
                return Err(DomainError::NotLicensable.into());
            }
            let loaded = self.load_license(license_id).await?;
            let events =
                license::decide_create(&loaded.state, license_id, account_id, product, seats)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateLicense,
                    format!("Created license {product} with {seats} seats"),
                )
                .with_target("license", license_id);
            Ok(vec![append(
                license_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    /// Changes the seat count (never below the seats in use).
    pub async fn change_seats(
        &self,
        context: &CommandContext,
        license_id: LicenseId,
        seats: u32,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let (loaded, account_id, authorized) = self
                .license_for(context, license_id, Action::ManageLicenses)
                .await?;
            let events = license::decide_change_seats(&loaded.state, seats)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateLicense,
                    format!(
                        "Changed {} from {} to {seats} seats",
                        loaded.state.product, loaded.state.seats
                    ),
                )
                .with_target("license", license_id);
            Ok(vec![append(
                license_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    /// Assigns seats to several users at once: all of them or none.
    pub async fn assign_license(
        &self,
        context: &CommandContext,
        license_id: LicenseId,
        users: &[UserId],
    ) -> Result<AppendOutcome, LedgerError> {
        if users.is_empty() || users.len() > MAX_USERS_PER_ASSIGNMENT {
            return Err(DomainError::NoChange.into());
        }
        self.retry(|| async move {
            let (loaded, account_id, authorized) = self
                .license_for(context, license_id, Action::AssignLicenses)
                .await?;
            let events = license::decide_assign(&loaded.state, users)?;
            let assigned = match events.first() {
                Some(LicenseEvent::Assigned { user_ids }) => user_ids.clone(),
                _ => vec![],
            };
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateLicense,
                    format!(
                        "Assigned {} to {} users",
                        loaded.state.product,
                        assigned.len()
                    ),
                )
                .with_target("license", license_id);
            let mut appends = vec![append(
                license_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?];
            appends.extend(
                self.user_license_appends(
                    &assigned,
                    account_id,
                    UserEvent::LicenseAssigned { license_id },
                    &metadata,
                    true,
                )
                .await?,
            );
            Ok(appends)
        })
        .await
    }

    /// Releases the seats of several users at once.
    pub async fn release_license(
        &self,
        context: &CommandContext,
        license_id: LicenseId,
        users: &[UserId],
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let (loaded, account_id, authorized) = self
                .license_for(context, license_id, Action::AssignLicenses)
                .await?;
            let events = license::decide_release(&loaded.state, users, ReleaseReason::Revoked);
            let Some(LicenseEvent::Released { user_ids, .. }) = events.first() else {
                return Err(DomainError::NoChange.into());
            };
            let released = user_ids.clone();
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateLicense,
                    format!(
                        "Released {} from {} users",
                        loaded.state.product,
                        released.len()
                    ),
                )
                .with_target("license", license_id);
            let mut appends = vec![append(
                license_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?];
            appends.extend(
                self.user_license_appends(
                    &released,
                    account_id,
                    UserEvent::LicenseReleased { license_id },
                    &metadata,
                    false,
                )
                .await?,
            );
            Ok(appends)
        })
        .await
    }

    /// Cancels a license: every seat is released.
    pub async fn cancel_license(
        &self,
        context: &CommandContext,
        license_id: LicenseId,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let (loaded, account_id, authorized) = self
                .license_for(context, license_id, Action::ManageLicenses)
                .await?;
            let holders: Vec<UserId> = loaded.state.assigned.iter().copied().collect();
            let events = license::decide_cancel(&loaded.state)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateLicense,
                    format!("Cancelled license {}", loaded.state.product),
                )
                .with_target("license", license_id);
            let mut appends = vec![append(
                license_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?];
            appends.extend(
                self.user_license_appends(
                    &holders,
                    account_id,
                    UserEvent::LicenseReleased { license_id },
                    &metadata,
                    false,
                )
                .await?,
            );
            Ok(appends)
        })
        .await
    }

    /// Loads a license and authorizes `action` in its organization.
    async fn license_for(
        &self,
        context: &CommandContext,
        license_id: LicenseId,
        action: Action,
    ) -> Result<
        (
            crate::app::ledger::Loaded<license::LicenseState>,
            AccountId,
            crate::app::ledger::Authorized,
        ),
        LedgerError,
    > {
        let loaded = self.load_license(license_id).await?;
        let account_id = loaded.state.account_id.ok_or(DomainError::NotFound)?;
        let account = self.load_account(account_id).await?;
        let authorized = self.authorize(context, action, &account.state).await?;
        Ok((loaded, account_id, authorized))
    }

    /// One user-stream append per user, expected at the version read; users
    /// must be active members of the organization when `must_be_active`.
    async fn user_license_appends(
        &self,
        users: &[UserId],
        account_id: AccountId,
        event: UserEvent,
        metadata: &crate::app::context::EventMetadata,
        must_be_active: bool,
    ) -> Result<Vec<StreamAppend>, LedgerError> {
        let mut by_user = BTreeMap::new();
        for user_id in users {
            let loaded = self.load_user(*user_id).await?;
            let member = loaded.state.account_id == Some(account_id);
            let active = loaded.state.status == user::Status::Active;
            if !member || (must_be_active && !active) {
                if must_be_active {
                    return Err(DomainError::NotLicensable.into());
                }
                continue;
            }
            by_user.insert(
                *user_id,
                append(
                    user_id.stream(),
                    loaded.version,
                    std::slice::from_ref(&event),
                    metadata,
                )?,
            );
        }
        Ok(by_user.into_values().collect())
    }
}
