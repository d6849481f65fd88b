//! `OpenTicket`: a support ticket in an account.

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, TicketId};
use crate::domain::permissions::Action;
use crate::domain::ticket::{self, TicketState};

#[derive(Debug, Clone)]
pub struct OpenTicket {
    pub account_id: AccountId,
    /// The new ticket's id (the HTTP edge makes a UUID v7).
    pub ticket_id: TicketId,
    pub subject: String,
    pub description: String,
}

/// The account and the (not yet existing) ticket.
pub struct Opening {
    account: Loaded<AccountState>,
    ticket: Loaded<TicketState>,
}

impl Facts<OpenTicket> for Opening {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &OpenTicket,
    ) -> Result<Self, LedgerError> {
        Ok(Opening {
            account: ledger.load_account(command.account_id).await?,
            ticket: ledger.load_ticket(command.ticket_id).await?,
        })
    }

    fn permission(&self, _: &OpenTicket) -> Result<Permission<'_>, LedgerError> {
        self.account.state.live_kind()?;
        Ok(Permission::to(Action::ManageTickets, &self.account.state))
    }
}

impl Command for OpenTicket {
    type Facts = Opening;

    fn decide(&self, facts: &Opening, _: &Authorized) -> Result<Decision, LedgerError> {
        let events = ticket::decide_open(
            &facts.ticket.state,
            self.ticket_id,
            self.account_id,
            &self.subject,
            &self.description,
        )?;
        Ok(Decision::new(
            ActivityType::UpdateTickets,
            format!("Opened ticket {}", self.subject.trim()),
        )
        .target("ticket", self.ticket_id)
        .change(Change::at(
            self.ticket_id.stream(),
            facts.ticket.version,
            &events,
        )?))
    }
}
