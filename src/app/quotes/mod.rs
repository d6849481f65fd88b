//! Quote commands: a partner's staff create, change, send and withdraw a
//! quote for a customer organization; the customer's admins accept or
//! decline it. One file per command.
//!
//! Every command authorizes against the quote's account, the customer: the
//! matrix answers `ManageQuotes` (the partner's sales staff and admins, a
//! partner staff member only in an assigned customer, the platform) and
//! `DecideQuote` (the customer's admins only). Sending records one
//! `notification.queued` per active admin of the customer in the same
//! append, and the runner hands the e-mails over once it succeeded — so an
//! e-mail never announces a quote that was not sent. Descriptions name
//! products and organizations, never people.

mod create;
mod decide;
mod send;
mod update;
mod withdraw;

pub use create::CreateQuote;
pub use decide::{AcceptQuote, DeclineQuote};
pub use send::SendQuote;
pub use update::UpdateQuote;
pub use withdraw::WithdrawQuote;

use crate::app::command::Decision;
use crate::app::context::ActivityType;
use crate::app::facts::InAccount;
use crate::app::ledger::{Ledger, LedgerError};
use crate::domain::ids::QuoteId;
use crate::domain::quote::{QuoteEvent, QuoteState};

/// An existing quote and its (customer) account.
pub type QuoteFacts = InAccount<QuoteState>;

impl Ledger {
    /// The current state of a quote (for reads).
    pub async fn quote(&self, quote_id: QuoteId) -> Result<QuoteState, LedgerError> {
        Ok(self.load_quote(quote_id).await?.state)
    }
}

fn decision(
    facts: &QuoteFacts,
    quote_id: QuoteId,
    description: String,
    events: &[QuoteEvent],
) -> Result<Decision, LedgerError> {
    Ok(facts
        .decision(
            ActivityType::UpdateQuotes,
            description,
            ("quote", quote_id.to_string()),
            events,
        )?
        .names_nobody())
}
