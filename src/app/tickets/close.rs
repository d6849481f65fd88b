//! `CloseTicket`: closes an open ticket with its resolution.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::tickets::{self, TicketFacts};
use crate::domain::ids::TicketId;
use crate::domain::permissions::Action;
use crate::domain::ticket;

#[derive(Debug, Clone)]
pub struct CloseTicket {
    pub ticket_id: TicketId,
    pub resolution: String,
}

impl OnEntity<TicketId> for CloseTicket {
    const ACTION: Action = Action::ManageTickets;

    fn entity(&self) -> TicketId {
        self.ticket_id
    }
}

impl Command for CloseTicket {
    type Facts = TicketFacts;

    fn decide(&self, facts: &TicketFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = ticket::decide_close(state, &self.resolution)?;
        let description = format!("Closed ticket {}", state.subject);
        tickets::decision(facts, self.ticket_id, description, &events)
    }
}
