//! `PublishKitItem`: a new item in the platform's partner kit.

use crate::app::command::{Command, Decision, Facts, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::partner_kit::KitFacts;
use crate::domain::ids::{AccountId, KitItemId};
use crate::domain::partner_kit::{self, Category, Description, Material, Title};

/// A new item's fields (already parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKitItem {
    pub title: Title,
    pub description: Description,
    pub material: Material,
    pub category: Category,
}

#[derive(Debug, Clone)]
pub struct PublishKitItem {
    /// The platform, when the system publishes (a user publishes in their
    /// own platform).
    pub platform: Option<AccountId>,
    /// The new item's id (the HTTP edge makes a UUID v7).
    pub item_id: KitItemId,
    pub item: NewKitItem,
}

impl Facts<PublishKitItem> for KitFacts {
    async fn load(
        ledger: &Ledger,
        context: &CommandContext,
        command: &PublishKitItem,
    ) -> Result<Self, LedgerError> {
        KitFacts::read(ledger, context, command.platform, command.item_id).await
    }

    fn permission(&self, _: &PublishKitItem) -> Result<Permission<'_>, LedgerError> {
        self.permission()
    }
}

impl Command for PublishKitItem {
    type Facts = KitFacts;

    fn decide(&self, facts: &KitFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let item = &self.item;
        let events = partner_kit::decide_publish(
            &facts.item.state,
            self.item_id,
            item.title.clone(),
            item.description.clone(),
            item.material.clone(),
            item.category.clone(),
        )?;
        let description = format!("Published {} to the partner kit", item.title.as_str());
        facts.decision(description, &events)
    }
}
