//! `WithdrawQuote`: the partner takes back a draft or sent quote.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::quotes::{self, QuoteFacts};
use crate::domain::ids::QuoteId;
use crate::domain::permissions::Action;
use crate::domain::quote;

#[derive(Debug, Clone)]
pub struct WithdrawQuote {
    pub quote_id: QuoteId,
}

impl OnEntity<QuoteId> for WithdrawQuote {
    const ACTION: Action = Action::ManageQuotes;

    fn entity(&self) -> QuoteId {
        self.quote_id
    }
}

impl Command for WithdrawQuote {
    type Facts = QuoteFacts;

    fn decide(&self, facts: &QuoteFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = quote::decide_withdraw(state)?;
        let description = format!("Withdrew quote for {}", state.product());
        quotes::decision(facts, self.quote_id, description, &events)
    }
}
