//! `WithdrawKitItem`: takes a published item out of the kit.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::partner_kit::KitFacts;
use crate::domain::ids::KitItemId;
use crate::domain::partner_kit;
use crate::domain::permissions::Action;

#[derive(Debug, Clone)]
pub struct WithdrawKitItem {
    pub item_id: KitItemId,
}

impl OnEntity<KitItemId> for WithdrawKitItem {
    const ACTION: Action = Action::ManagePartnerKit;

    fn entity(&self) -> KitItemId {
        self.item_id
    }
}

impl Command for WithdrawKitItem {
    type Facts = KitFacts;

    fn decide(&self, facts: &KitFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = &facts.item.state;
        let events = partner_kit::decide_withdraw(state)?;
        facts.decision(
            format!("Withdrew {} from the partner kit", state.title()),
            &events,
        )
    }
}
