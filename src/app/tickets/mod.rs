//! Ticket commands: open, update (comment / subject), close — each in its
//! own file, all authorized as `ManageTickets` in the ticket's account.

mod close;
mod open;
mod update;

pub use close::CloseTicket;
pub use open::OpenTicket;
pub use update::UpdateTicket;

use crate::app::command::Decision;
use crate::app::context::ActivityType;
use crate::app::facts::InAccount;
use crate::app::ledger::LedgerError;
use crate::domain::ids::TicketId;
use crate::domain::ticket::{TicketEvent, TicketState};

/// An existing ticket and its account.
pub type TicketFacts = InAccount<TicketState>;

fn decision(
    facts: &TicketFacts,
    ticket_id: TicketId,
    description: String,
    events: &[TicketEvent],
) -> Result<Decision, LedgerError> {
    facts.decision(
        ActivityType::UpdateTickets,
        description,
        ("ticket", ticket_id.to_string()),
        events,
    )
}
