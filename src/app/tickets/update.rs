//! `UpdateTicket`: a comment, a new subject, or both.

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::tickets::{self, TicketFacts};
use crate::domain::ids::TicketId;
use crate::domain::permissions::Action;
use crate::domain::ticket;

#[derive(Debug, Clone)]
pub struct UpdateTicket {
    pub ticket_id: TicketId,
    pub subject: Option<String>,
    pub comment: Option<String>,
}

impl OnEntity<TicketId> for UpdateTicket {
    const ACTION: Action = Action::ManageTickets;

    fn entity(&self) -> TicketId {
        self.ticket_id
    }
}

impl Command for UpdateTicket {
    type Facts = TicketFacts;

    fn decide(&self, facts: &TicketFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events =
            ticket::decide_update(state, self.subject.as_deref(), self.comment.as_deref())?;
        let description = format!("Updated ticket {}", state.subject);
        tickets::decision(facts, self.ticket_id, description, &events)
    }
}
