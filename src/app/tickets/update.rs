//! `UpdateTicket`: a comment, a new subject, or both.

use crate::app::command::{Command, Decision, Permission};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
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

impl Command for UpdateTicket {
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
        let events =
            ticket::decide_update(state, self.subject.as_deref(), self.comment.as_deref())?;
        let description = format!("Updated ticket {}", state.subject);
        tickets::decision(facts, self.ticket_id, description, &events)
    }
}
