//! `UpdateKitItem`: changes a published item.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::partner_kit::KitFacts;
use crate::domain::ids::KitItemId;
use crate::domain::partner_kit::{self, ItemChange};
use crate::domain::permissions::Action;

#[derive(Debug, Clone)]
pub struct UpdateKitItem {
    pub item_id: KitItemId,
    pub change: ItemChange,
}

impl OnEntity<KitItemId> for UpdateKitItem {
    const ACTION: Action = Action::ManagePartnerKit;

    fn entity(&self) -> KitItemId {
        self.item_id
    }
}

impl Command for UpdateKitItem {
    type Facts = KitFacts;

    fn decide(&self, facts: &KitFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = &facts.item.state;
        let events = partner_kit::decide_update(state, self.change.clone())?;
        facts.decision(
            format!("Updated {} in the partner kit", state.title()),
            &events,
        )
    }
}
