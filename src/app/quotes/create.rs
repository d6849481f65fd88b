//! `CreateQuote`: a draft quote in a customer organization.

use chrono::NaiveDate;

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, QuoteId};
use crate::domain::permissions::Action;
use crate::domain::quote::{self, QuoteState, Terms};
use crate::domain::role::AccountKind;
use crate::domain::DomainError;

#[derive(Debug, Clone)]
pub struct CreateQuote {
    pub account_id: AccountId,
    /// The new quote's id (the HTTP edge makes a UUID v7).
    pub quote_id: QuoteId,
    pub terms: Terms,
    /// Today, for the validity check.
    pub today: NaiveDate,
}

/// The customer and the (not yet existing) quote.
pub struct Drafting {
    account: Loaded<AccountState>,
    quote: Loaded<QuoteState>,
}

impl Facts<CreateQuote> for Drafting {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &CreateQuote,
    ) -> Result<Self, LedgerError> {
        Ok(Drafting {
            account: ledger.load_account(command.account_id).await?,
            quote: ledger.load_quote(command.quote_id).await?,
        })
    }

    fn permission(&self, _: &CreateQuote) -> Result<Permission<'_>, LedgerError> {
        Ok(Permission::to(Action::ManageQuotes, &self.account.state))
    }
}

impl Command for CreateQuote {
    type Facts = Drafting;

    fn decide(&self, facts: &Drafting, _: &Authorized) -> Result<Decision, LedgerError> {
        // Asked after the permission: who may not quote here learns
        // nothing about the account.
        if facts.account.state.live_kind()? != AccountKind::Organization {
            return Err(DomainError::QuoteNeedsOrganization.into());
        }
        let terms = &self.terms;
        let events = quote::decide_create(
            &facts.quote.state,
            self.quote_id,
            self.account_id,
            terms.clone(),
            self.today,
        )?;
        let description = format!(
            "Created quote for {} seats of {}",
            terms.seats.get(),
            terms.product.as_str()
        );
        Ok(Decision::new(ActivityType::UpdateQuotes, description)
            .names_nobody()
            .target("quote", self.quote_id)
            .change(Change::at(
                self.quote_id.stream(),
                facts.quote.version,
                &events,
            )?))
    }
}
