//! `AcceptQuote` and `DeclineQuote`: the customer's admins decide on a sent
//! quote (the decision only; billing follows elsewhere).

use chrono::NaiveDate;

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::quotes::{self, QuoteFacts};
use crate::domain::ids::QuoteId;
use crate::domain::permissions::Action;
use crate::domain::quote::{self, Note};

#[derive(Debug, Clone)]
pub struct AcceptQuote {
    pub quote_id: QuoteId,
    /// Today, for the validity check.
    pub today: NaiveDate,
}

impl OnEntity<QuoteId> for AcceptQuote {
    const ACTION: Action = Action::DecideQuote;

    fn entity(&self) -> QuoteId {
        self.quote_id
    }
}

impl Command for AcceptQuote {
    type Facts = QuoteFacts;

    fn decide(&self, facts: &QuoteFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = quote::decide_accept(state, self.today)?;
        let description = format!("Accepted quote for {}", state.product());
        quotes::decision(facts, self.quote_id, description, &events)
    }
}

#[derive(Debug, Clone)]
pub struct DeclineQuote {
    pub quote_id: QuoteId,
    pub reason: Option<Note>,
}

impl OnEntity<QuoteId> for DeclineQuote {
    const ACTION: Action = Action::DecideQuote;

    fn entity(&self) -> QuoteId {
        self.quote_id
    }
}

impl Command for DeclineQuote {
    type Facts = QuoteFacts;

    fn decide(&self, facts: &QuoteFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = quote::decide_decline(state, self.reason.clone())?;
        let description = format!("Declined quote for {}", state.product());
        quotes::decision(facts, self.quote_id, description, &events)
    }
}
