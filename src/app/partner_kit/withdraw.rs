//! `WithdrawKitItem`: takes a published item out of the kit.

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::partner_kit::KitFacts;
use crate::domain::ids::KitItemId;
use crate::domain::partner_kit;

#[derive(Debug, Clone)]
pub struct WithdrawKitItem {
    pub item_id: KitItemId,
}

impl Command for WithdrawKitItem {
    type Facts = KitFacts;
    type Output = ();

    async fn load(
        &self,
        ledger: &Ledger,
        context: &CommandContext,
    ) -> Result<KitFacts, LedgerError> {
        KitFacts::load_published(ledger, context, self.item_id).await
    }

    fn permission<'f>(&self, facts: &'f KitFacts) -> Result<Permission<'f>, LedgerError> {
        facts.permission()
    }

    fn decide(&self, facts: &KitFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = &facts.item.state;
        let events = partner_kit::decide_withdraw(state)?;
        facts.decision(
            format!("Withdrew {} from the partner kit", state.title()),
            &events,
        )
    }
}
