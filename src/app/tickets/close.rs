//! `CloseTicket`: closes an open ticket with its resolution.

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::tickets::{self, TicketFacts};
use crate::domain::ids::TicketId;
use crate::domain::permissions::Action;
use crate::domain::ticket;

#[derive(Debug, Clone)]
pub struct CloseTicket {
    pub ticket_id: TicketId,
    pub resolution: String,
}

impl Command for CloseTicket {
    type Facts = TicketFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<TicketFacts, LedgerError> {
        tickets::load(ledger, self.ticket_id).await
    }

    fn permission<'f>(&self, facts: &'f TicketFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(facts.permission(Action::ManageTickets))
    }

    fn decide(&self, facts: &TicketFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = ticket::decide_close(state, &self.resolution)?;
        let description = format!("Closed ticket {}", state.subject);
        tickets::decision(facts, self.ticket_id, description, &events)
    }
}
