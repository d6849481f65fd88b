//! Partner kit commands: the platform publishes, changes and withdraws
//! marketing materials for its partners (one file per command); who may
//! read the kit is asked here too.
//!
//! The kit belongs to the platform, so every question is asked of the
//! platform's account: the platform's own staff stand in it (`Own`), a
//! partner's staff stand before the platform that invited their partner
//! (`Relation::Provider`), and an organization's users have no such
//! relation — the kit does not exist for them. The platform is found from
//! the actor: their own account if it is the platform, else its parent.
//! That is why these commands read with the actor in hand.

mod publish;
mod update;
mod withdraw;

pub use publish::{NewKitItem, PublishKitItem};
pub use update::UpdateKitItem;
pub use withdraw::WithdrawKitItem;

use crate::app::command::{Change, Decision, Facts, OnEntity, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, KitItemId};
use crate::domain::partner_kit::{KitEvent, KitItemState};
use crate::domain::permissions::{Action, Denied};
use crate::domain::role::AccountKind;
use crate::domain::DomainError;

/// The platform whose kit the actor acts on, and the item.
pub struct KitFacts {
    item_id: KitItemId,
    platform: Loaded<AccountState>,
    item: Loaded<KitItemState>,
}

/// Every command on a published item: the system acts for the platform
/// that published it, a user in their own platform.
impl<C: OnEntity<KitItemId> + Sync> Facts<C> for KitFacts {
    async fn load(
        ledger: &Ledger,
        context: &CommandContext,
        command: &C,
    ) -> Result<Self, LedgerError> {
        let item_id = command.entity();
        let published_in = kit_item_platform(ledger, item_id).await?;
        Self::read(ledger, context, published_in, item_id).await
    }

    fn permission(&self, _: &C) -> Result<Permission<'_>, LedgerError> {
        kit_permission(C::ACTION, &self.platform.state)
    }
}

impl KitFacts {
    /// Reads the actor's platform (the system's: `platform_for_system`)
    /// and the item.
    async fn read(
        ledger: &Ledger,
        context: &CommandContext,
        platform_for_system: Option<AccountId>,
        item_id: KitItemId,
    ) -> Result<Self, LedgerError> {
        Ok(Self {
            item_id,
            platform: platform_of(ledger, context, platform_for_system).await?,
            item: ledger.load_kit_item(item_id).await?,
        })
    }

    fn permission(&self) -> Result<Permission<'_>, LedgerError> {
        kit_permission(Action::ManagePartnerKit, &self.platform.state)
    }

    /// `events` on the item's stream; kit descriptions name no person.
    fn decision(&self, description: String, events: &[KitEvent]) -> Result<Decision, LedgerError> {
        Ok(Decision::new(ActivityType::UpdatePartnerKit, description)
            .names_nobody()
            .target("kit_item", self.item_id)
            .change(Change::at(
                self.item_id.stream(),
                self.item.version,
                events,
            )?))
    }
}

impl Ledger {
    /// Whether the actor may read the partner kit (answers `Ok` or why not).
    pub async fn may_view_partner_kit(&self, context: &CommandContext) -> Result<(), LedgerError> {
        let platform = platform_of(self, context, None).await?;
        let permission = kit_permission(Action::ViewPartnerKit, &platform.state)?;
        self.authorize(context, Action::ViewPartnerKit, permission.account)
            .await
            .map(|_| ())
    }
}

/// The platform account whose kit the actor asks about. The system acts
/// for the platform it names.
async fn platform_of(
    ledger: &Ledger,
    context: &CommandContext,
    platform_for_system: Option<AccountId>,
) -> Result<Loaded<AccountState>, LedgerError> {
    let platform = match ledger.acting(context).await? {
        None => platform_for_system.ok_or(DomainError::AccountNotFound)?,
        Some(acting) => {
            let home_state = ledger.load_account(acting.account).await?.state;
            if home_state.kind == Some(AccountKind::Platform) {
                acting.account
            } else {
                home_state.parent.ok_or(Denied::Hidden)?
            }
        }
    };
    ledger.load_account(platform).await
}

/// `action` on the kit of `platform` — which must be a platform: an
/// organization's parent is its partner, and there is no kit there (nor
/// does the system name anything but the platform).
fn kit_permission(action: Action, platform: &AccountState) -> Result<Permission<'_>, LedgerError> {
    if platform.kind != Some(AccountKind::Platform) {
        return Err(Denied::Hidden.into());
    }
    Ok(Permission::to(action, platform))
}

/// The platform an item was published in (its first event's account).
async fn kit_item_platform(
    ledger: &Ledger,
    item_id: KitItemId,
) -> Result<Option<AccountId>, LedgerError> {
    let events = ledger.store().read_stream(&item_id.stream(), 1, 1).await?;
    Ok(events
        .first()
        .and_then(|e| e.metadata.to_value()["account"].as_str().map(str::to_owned))
        .and_then(|a| a.parse().ok()))
}
