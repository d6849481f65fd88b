//! Ticket commands: open, update (comment / subject), close.

use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{append, Ledger, LedgerError};
use crate::domain::ids::{AccountId, TicketId};
use crate::domain::permissions::Action;
use crate::domain::ticket::{self, TicketEvent, TicketState};
use crate::domain::DomainError;
use crate::store::AppendOutcome;

impl Ledger {
    pub async fn open_ticket(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        ticket_id: TicketId,
        subject: &str,
        description: &str,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            account.state.live_kind()?;
            let authorized = self
                .authorize(context, Action::ManageTickets, &account.state)
                .await?;
            let loaded = self.load_ticket(ticket_id).await?;
            let events =
                ticket::decide_open(&loaded.state, ticket_id, account_id, subject, description)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateTickets,
                    format!("Opened ticket {}", subject.trim()),
                )
                .with_target("ticket", ticket_id);
            Ok(vec![append(
                ticket_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    pub async fn update_ticket(
        &self,
        context: &CommandContext,
        ticket_id: TicketId,
        subject: Option<&str>,
        comment: Option<&str>,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_ticket(context, ticket_id, |state| {
            Ok((
                ticket::decide_update(state, subject, comment)?,
                format!("Updated ticket {}", state.subject),
            ))
        })
        .await
    }

    pub async fn close_ticket(
        &self,
        context: &CommandContext,
        ticket_id: TicketId,
        resolution: &str,
    ) -> Result<AppendOutcome, LedgerError> {
        self.on_ticket(context, ticket_id, |state| {
            Ok((
                ticket::decide_close(state, resolution)?,
                format!("Closed ticket {}", state.subject),
            ))
        })
        .await
    }

    async fn on_ticket<D>(
        &self,
        context: &CommandContext,
        ticket_id: TicketId,
        decide: D,
    ) -> Result<AppendOutcome, LedgerError>
    where
        D: Fn(&TicketState) -> Result<(Vec<TicketEvent>, String), LedgerError>,
    {
        let decide = &decide;
        self.retry(|| async move {
            let loaded = self.load_ticket(ticket_id).await?;
            let account_id = loaded.state.account_id.ok_or(DomainError::NotFound)?;
            let account = self.load_account(account_id).await?;
            let authorized = self
                .authorize(context, Action::ManageTickets, &account.state)
                .await?;
            let (events, description) = decide(&loaded.state)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateTickets,
                    description,
                )
                .with_target("ticket", ticket_id);
            Ok(vec![append(
                ticket_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }
}
