//! `UpdateQuote`: changes a draft's terms.

use chrono::NaiveDate;

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::quotes::{self, QuoteFacts};
use crate::domain::ids::QuoteId;
use crate::domain::permissions::Action;
use crate::domain::quote::{self, TermsChange};

#[derive(Debug, Clone)]
pub struct UpdateQuote {
    pub quote_id: QuoteId,
    pub change: TermsChange,
    pub today: NaiveDate,
}

impl OnEntity<QuoteId> for UpdateQuote {
    const ACTION: Action = Action::ManageQuotes;

    fn entity(&self) -> QuoteId {
        self.quote_id
    }
}

impl Command for UpdateQuote {
    type Facts = QuoteFacts;

    fn decide(&self, facts: &QuoteFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = quote::decide_update(state, self.change.clone(), self.today)?;
        let description = format!("Updated quote for {}", state.product());
        quotes::decision(facts, self.quote_id, description, &events)
    }
}
