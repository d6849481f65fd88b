//! `UpdateQuote`: changes a draft's terms.

use chrono::NaiveDate;

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
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

impl Command for UpdateQuote {
    type Facts = QuoteFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<QuoteFacts, LedgerError> {
        quotes::load(ledger, self.quote_id).await
    }

    fn permission<'f>(&self, facts: &'f QuoteFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.permission(Action::ManageQuotes))
    }

    fn decide(&self, facts: &QuoteFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = quote::decide_update(state, self.change.clone(), self.today)?;
        let description = format!("Updated quote for {}", state.product());
        quotes::decision(facts, self.quote_id, description, &events)
    }
}
