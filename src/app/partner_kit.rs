//! Partner kit commands: the platform publishes, changes and withdraws
//! marketing materials for its partners; reads are authorized here too.
//!
//! The kit belongs to the platform, so every question is asked of the
//! platform's account: the platform's own staff stand in it (`Own`), a
//! partner's staff stand before the platform that invited their partner
//! (`Relation::Provider`), and an organization's users have no such
//! relation — the kit does not exist for them. The platform is found from
//! the actor: their own account if it is the platform, else its parent.

use crate::app::context::{ActivityType, Actor, CommandContext};
use crate::app::ledger::{append, Authorized, Ledger, LedgerError};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, KitItemId};
use crate::domain::partner_kit::{
    self, Category, Description, ItemChange, KitEvent, KitItemState, Material, Title,
};
use crate::domain::permissions::{Action, Denied};
use crate::domain::role::AccountKind;
use crate::domain::DomainError;
use crate::store::AppendOutcome;

/// A new item's fields (already parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKitItem {
    pub title: Title,
    pub description: Description,
    pub material: Material,
    pub category: Category,
}

impl Ledger {
    /// The platform account whose kit the actor asks about, and the
    /// matrix's answer for `action` there. The system acts for the
    /// platform it names.
    pub(crate) async fn authorize_kit(
        &self,
        context: &CommandContext,
        action: Action,
        platform_for_system: Option<AccountId>,
    ) -> Result<(AccountId, Authorized), LedgerError> {
        let platform = match context.actor() {
            Actor::System => platform_for_system.ok_or(DomainError::AccountNotFound)?,
            Actor::User(user) => {
                let home = self
                    .load_user(user)
                    .await?
                    .state
                    .account_id
                    .ok_or(LedgerError::Unauthenticated)?;
                let home_state = self.load_account(home).await?.state;
                if home_state.kind == Some(AccountKind::Platform) {
                    home
                } else {
                    home_state.parent.ok_or(Denied::Hidden)?
                }
            }
        };
        let target: AccountState = self.load_account(platform).await?.state;
        if target.kind != Some(AccountKind::Platform) {
            // An organization's parent is its partner: no kit there (and
            // the system names the platform itself).
            return Err(Denied::Hidden.into());
        }
        let authorized = self.authorize(context, action, &target).await?;
        Ok((platform, authorized))
    }

    /// Whether the actor may read the partner kit (answers `Ok` or why not).
    pub async fn may_view_partner_kit(&self, context: &CommandContext) -> Result<(), LedgerError> {
        self.authorize_kit(context, Action::ViewPartnerKit, None)
            .await
            .map(|_| ())
    }

    /// Publishes an item (the platform's admins; the system for `platform`).
    pub async fn publish_kit_item(
        &self,
        context: &CommandContext,
        platform: Option<AccountId>,
        item_id: KitItemId,
        item: NewKitItem,
    ) -> Result<AppendOutcome, LedgerError> {
        let item = &item;
        self.retry(|| async move {
            let (platform, authorized) = self
                .authorize_kit(context, Action::ManagePartnerKit, platform)
                .await?;
            let loaded = self.load_kit_item(item_id).await?;
            let events = partner_kit::decide_publish(
                &loaded.state,
                item_id,
                item.title.clone(),
                item.description.clone(),
                item.material.clone(),
                item.category.clone(),
            )?;
            let metadata = authorized
                .metadata(
                    context,
                    platform,
                    ActivityType::UpdatePartnerKit,
                    format!("Published {} to the partner kit", item.title.as_str()),
                )
                .names_nobody()
                .with_target("kit_item", item_id);
            Ok(vec![append(
                item_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    /// Changes a published item.
    pub async fn update_kit_item(
        &self,
        context: &CommandContext,
        item_id: KitItemId,
        change: ItemChange,
    ) -> Result<AppendOutcome, LedgerError> {
        let change = &change;
        self.on_kit_item(context, item_id, |state| {
            Ok((
                partner_kit::decide_update(state, change.clone())?,
                format!("Updated {} in the partner kit", state.title()),
            ))
        })
        .await
    }

    /// Withdraws a published item.
    pub async fn withdraw_kit_item(
        &self,
        context: &CommandContext,
        item_id: KitItemId,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_kit_item(context, item_id, |state| {
            Ok((
                partner_kit::decide_withdraw(state)?,
                format!("Withdrew {} from the partner kit", state.title()),
            ))
        })
        .await
    }

    async fn on_kit_item<D>(
        &self,
        context: &CommandContext,
        item_id: KitItemId,
        decide: D,
    ) -> Result<AppendOutcome, LedgerError>
    where
        D: Fn(&KitItemState) -> Result<(Vec<KitEvent>, String), LedgerError>,
    {
        let decide = &decide;
        self.retry(|| async move {
            let loaded = self.load_kit_item(item_id).await?;
            // The system names no platform: the item's publication does.
            let published_in = self.kit_item_platform(item_id).await?;
            let (platform, authorized) = self
                .authorize_kit(context, Action::ManagePartnerKit, published_in)
                .await?;
            let (events, description) = decide(&loaded.state)?;
            let metadata = authorized
                .metadata(
                    context,
                    platform,
                    ActivityType::UpdatePartnerKit,
                    description,
                )
                .names_nobody()
                .with_target("kit_item", item_id);
            Ok(vec![append(
                item_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    /// The platform an item was published in (its first event's account).
    async fn kit_item_platform(
        &self,
        item_id: KitItemId,
    ) -> Result<Option<AccountId>, LedgerError> {
        let events = self.store().read_stream(&item_id.stream(), 1, 1).await?;
        Ok(events
            .first()
            .and_then(|e| e.metadata.to_value()["account"].as_str().map(str::to_owned))
            .and_then(|a| a.parse().ok()))
    }
}
