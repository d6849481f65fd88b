//! Quote commands: a partner's staff create, change, send and withdraw a
//! quote for a customer organization; the customer's admins accept or
//! decline it.
//!
//! Every command authorizes against the quote's account, the customer: the
//! matrix answers `ManageQuotes` (the partner's sales staff and admins, a
//! partner staff member only in an assigned customer, the platform) and
//! `DecideQuote` (the customer's admins only). Sending records one
//! `notification.queued` per active admin of the customer in the same
//! append, and hands the e-mails over once it succeeded — so an e-mail
//! never announces a quote that was not sent.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{append, Authorized, Ledger, LedgerError, Loaded};
use crate::app::notifications::{Notice, Recipient};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, NotificationId, QuoteId};
use crate::domain::notification;
use crate::domain::permissions::Action;
use crate::domain::quote::{self, Note, QuoteEvent, QuoteState, Terms, TermsChange};
use crate::domain::role::AccountKind;
use crate::domain::user::Status;
use crate::domain::DomainError;
use crate::store::{AppendOutcome, StreamAppend};

/// A loaded quote with its authorized actor, ready to decide on.
struct OnQuote {
    quote: Loaded<QuoteState>,
    account_id: AccountId,
    account: AccountState,
    authorized: Authorized,
}

impl Ledger {
    /// Creates a draft quote in a customer organization.
    pub async fn create_quote(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        quote_id: QuoteId,
        terms: Terms,
        today: NaiveDate,
    ) -> Result<AppendOutcome, LedgerError> {
        let terms = &terms;
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            let authorized = self
                .authorize(context, Action::ManageQuotes, &account.state)
                .await?;
            if account.state.live_kind()? != AccountKind::Organization {
                return Err(DomainError::QuoteNeedsOrganization.into());
            }
            let loaded = self.load_quote(quote_id).await?;
            let events =
                quote::decide_create(&loaded.state, quote_id, account_id, terms.clone(), today)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateQuotes,
                    format!(
                        "Created quote for {} seats of {}",
                        terms.seats.get(),
                        terms.product.as_str()
                    ),
                )
                .names_nobody()
                .with_target("quote", quote_id);
            Ok(vec![append(
                quote_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    /// Changes a draft's terms.
    pub async fn update_quote(
        &self,
        context: &CommandContext,
        quote_id: QuoteId,
        change: TermsChange,
        today: NaiveDate,
    ) -> Result<AppendOutcome, LedgerError> {
        let change = &change;
        self.on_quote(context, quote_id, Action::ManageQuotes, |state| {
            Ok((
                quote::decide_update(state, change.clone(), today)?,
                format!("Updated quote for {}", state.product()),
            ))
        })
        .await
    }

    /// Withdraws a draft or sent quote.
    pub async fn withdraw_quote(
        &self,
        context: &CommandContext,
        quote_id: QuoteId,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_quote(context, quote_id, Action::ManageQuotes, |state| {
            Ok((
                quote::decide_withdraw(state)?,
                format!("Withdrew quote for {}", state.product()),
            ))
        })
        .await
    }

    /// The customer's admin accepts a sent quote (the decision only).
    pub async fn accept_quote(
        &self,
        context: &CommandContext,
        quote_id: QuoteId,
        today: NaiveDate,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_quote(context, quote_id, Action::DecideQuote, |state| {
            Ok((
                quote::decide_accept(state, today)?,
                format!("Accepted quote for {}", state.product()),
            ))
        })
        .await
    }

    /// The customer's admin declines a sent quote.
    pub async fn decline_quote(
        &self,
        context: &CommandContext,
        quote_id: QuoteId,
        reason: Option<Note>,
    ) -> Result<AppendOutcome, LedgerError> {
        let reason = &reason;
        self.on_quote(context, quote_id, Action::DecideQuote, |state| {
            Ok((
                quote::decide_decline(state, reason.clone())?,
                format!("Declined quote for {}", state.product()),
            ))
        })
        .await
    }

    /// Sends a draft to the customer: its active admins get an e-mail.
    pub async fn send_quote(
        &self,
        context: &CommandContext,
        quote_id: QuoteId,
        today: NaiveDate,
    ) -> Result<AppendOutcome, LedgerError> {
        let (outcome, notices) = self
            .retry_with(|| async move {
                let on = self
                    .quote_for(context, quote_id, Action::ManageQuotes)
                    .await?;
                let events = quote::decide_send(&on.quote.state, today)?;
                let notices = self.quote_notices(&on.account, &on.quote.state).await?;
                let description = format!(
                    "Sent quote for {} to {}",
                    on.quote.state.product(),
                    on.account.name
                );
                let metadata = on
                    .authorized
                    .metadata(
                        context,
                        on.account_id,
                        ActivityType::UpdateQuotes,
                        description,
                    )
                    .names_nobody()
                    .with_target("quote", quote_id);
                let mut appends = vec![append(
                    quote_id.stream(),
                    on.quote.version,
                    &events,
                    &metadata,
                )?];
                for notice in &notices {
                    appends.push(notice.append(NotificationId(Uuid::now_v7()), &metadata)?);
                }
                Ok((appends, notices))
            })
            .await?;
        for notice in &notices {
            self.deliver(notice);
        }
        Ok(outcome)
    }

    /// The current state of a quote (for reads).
    pub async fn quote(&self, quote_id: QuoteId) -> Result<QuoteState, LedgerError> {
        Ok(self.load_quote(quote_id).await?.state)
    }

    /// The e-mails announcing a quote to the customer's active admins.
    async fn quote_notices(
        &self,
        customer: &AccountState,
        state: &QuoteState,
    ) -> Result<Vec<Notice>, LedgerError> {
        let terms = state.terms.as_ref().ok_or(DomainError::NotFound)?;
        let from = match customer.parent {
            Some(parent) => self.load_account(parent).await?.state.name,
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
            let user = self.load_user(*admin).await?.state;
            if let (Status::Active, Some(email)) = (user.status, user.email) {
                notices.push(Notice::plain(
                    Recipient::user(*admin, email),
                    message.clone(),
                ));
            }
        }
        Ok(notices)
    }

    /// Loads a quote and its account and authorizes `action` there.
    async fn quote_for(
        &self,
        context: &CommandContext,
        quote_id: QuoteId,
        action: Action,
    ) -> Result<OnQuote, LedgerError> {
        let quote = self.load_quote(quote_id).await?;
        let account_id = quote.state.account_id.ok_or(DomainError::NotFound)?;
        let account = self.load_account(account_id).await?;
        let authorized = self.authorize(context, action, &account.state).await?;
        Ok(OnQuote {
            quote,
            account_id,
            account: account.state,
            authorized,
        })
    }

    /// Load, authorize, decide, append (retried on a lost race).
    async fn on_quote<D>(
        &self,
        context: &CommandContext,
        quote_id: QuoteId,
        action: Action,
        decide: D,
    ) -> Result<AppendOutcome, LedgerError>
    where
        D: Fn(&QuoteState) -> Result<(Vec<QuoteEvent>, String), LedgerError>,
    {
        let decide = &decide;
        self.retry(|| async move {
            let on = self.quote_for(context, quote_id, action).await?;
            let (events, description) = decide(&on.quote.state)?;
            let metadata = on
                .authorized
                .metadata(
                    context,
                    on.account_id,
                    ActivityType::UpdateQuotes,
                    description,
                )
                .names_nobody()
                .with_target("quote", quote_id);
            let appends: Vec<StreamAppend> = vec![append(
                quote_id.stream(),
                on.quote.version,
                &events,
                &metadata,
            )?];
            Ok(appends)
        })
        .await
    }
}
