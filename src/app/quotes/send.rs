//! `SendQuote`: a draft goes to the customer; its active admins get an
//! e-mail, recorded in the same append and sent once it succeeded.

use chrono::NaiveDate;

use crate::app::command::{Command, Decision, Facts, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::notifications::{Notice, Recipient};
use crate::app::quotes::{self, QuoteFacts};
use crate::domain::account::AccountState;
use crate::domain::ids::QuoteId;
use crate::domain::notification;
use crate::domain::permissions::Action;
use crate::domain::quote::{self, QuoteState};
use crate::domain::user::Status;
use crate::domain::DomainError;

#[derive(Debug, Clone)]
pub struct SendQuote {
    pub quote_id: QuoteId,
    /// Today, for the validity check.
    pub today: NaiveDate,
}

/// The quote, its customer, and the e-mails to its active admins.
pub struct Sending {
    quote: QuoteFacts,
    notices: Vec<Notice>,
}

impl Facts<SendQuote> for Sending {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &SendQuote,
    ) -> Result<Self, LedgerError> {
        let quote = QuoteFacts::read(ledger, command.quote_id).await?;
        let notices = notices(ledger, &quote.account.state, quote.state()).await?;
        Ok(Sending { quote, notices })
    }

    fn permission(&self, _: &SendQuote) -> Result<Permission<'_>, LedgerError> {
        Ok(self.quote.asking(Action::ManageQuotes))
    }
}

impl Command for SendQuote {
    type Facts = Sending;

    fn decide(&self, facts: &Sending, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.quote.state();
        let events = quote::decide_send(state, self.today)?;
        let description = format!(
            "Sent quote for {} to {}",
            state.product(),
            facts.quote.account.state.name
        );
        let mut decision = quotes::decision(&facts.quote, self.quote_id, description, &events)?;
        for notice in &facts.notices {
            decision = decision.notify(notice.clone());
        }
        Ok(decision)
    }
}

/// The e-mails announcing a quote to the customer's active admins.
async fn notices(
    ledger: &Ledger,
    customer: &AccountState,
    state: &QuoteState,
) -> Result<Vec<Notice>, LedgerError> {
    let terms = state.terms.as_ref().ok_or(DomainError::NotFound)?;
    let from = match customer.parent {
        Some(parent) => ledger.load_account(parent).await?.state.name,
        None => customer.name.clone(),
    };
    let message = notification::quote_sent(
        &from,
        terms.product.as_str(),
        terms.seats.get(),
        quote::total_cents(terms.seats, terms.unit_price),
        terms.currency.as_str(),
        terms.valid_until,
    );
    let mut notices = Vec::new();
    for admin in &customer.admins {
        let user = ledger.load_user(*admin).await?.state;
        if let (Status::Active, Some(email)) = (user.status, user.email) {
            notices.push(Notice::plain(
                Recipient::user(*admin, email),
                message.clone(),
            ));
        }
    }
    Ok(notices)
}
