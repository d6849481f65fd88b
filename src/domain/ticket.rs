//! Support tickets of an organization: opened, updated, closed.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, TicketId};
use crate::domain::text::{self, Lines};
use crate::domain::DomainError;

/// Longest subject, in characters.
pub const MAX_SUBJECT: usize = 200;
/// Longest description or comment, in characters.
pub const MAX_TEXT: usize = 10_000;

/// What happened to a ticket; schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum TicketEvent {
    #[serde(rename = "ticket.opened")]
    Opened {
        ticket_id: TicketId,
        account_id: AccountId,
        subject: String,
        description: String,
    },
    /// A comment, and optionally a new subject.
    #[serde(rename = "ticket.updated")]
    Updated {
        subject: Option<String>,
        comment: Option<String>,
    },
    #[serde(rename = "ticket.closed")]
    Closed { resolution: String },
}

impl TicketEvent {
    pub const TYPES: [&'static str; 3] = ["ticket.opened", "ticket.updated", "ticket.closed"];
}

/// A ticket as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TicketState {
    pub ticket_id: Option<TicketId>,
    pub account_id: Option<AccountId>,
    pub subject: String,
    pub closed: bool,
}

pub fn evolve(mut state: TicketState, event: &TicketEvent) -> TicketState {
    match event {
        TicketEvent::Opened {
            ticket_id,
            account_id,
            subject,
            ..
        } => {
            state.ticket_id = Some(*ticket_id);
            state.account_id = Some(*account_id);
            state.subject = subject.clone();
        }
        TicketEvent::Updated { subject, .. } => {
            if let Some(subject) = subject {
                state.subject = subject.clone();
            }
        }
        TicketEvent::Closed { .. } => state.closed = true,
    }
    state
}

fn bounded(value: &str, max: usize, lines: Lines) -> Result<String, DomainError> {
    text::parse(value, max, lines, DomainError::InvalidText)
}

fn open(state: &TicketState) -> Result<(), DomainError> {
    match (state.ticket_id, state.closed) {
        (None, _) => Err(DomainError::NotFound),
        (Some(_), true) => Err(DomainError::TicketClosed),
        (Some(_), false) => Ok(()),
    }
}

pub fn decide_open(
    state: &TicketState,
    ticket_id: TicketId,
    account_id: AccountId,
    subject: &str,
    description: &str,
) -> Result<Vec<TicketEvent>, DomainError> {
    if state.ticket_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    Ok(vec![TicketEvent::Opened {
        ticket_id,
        account_id,
        subject: bounded(subject, MAX_SUBJECT, Lines::One)?,
        description: bounded(description, MAX_TEXT, Lines::Many)?,
    }])
}

pub fn decide_update(
    state: &TicketState,
    subject: Option<&str>,
    comment: Option<&str>,
) -> Result<Vec<TicketEvent>, DomainError> {
    open(state)?;
    let subject = subject
        .map(|s| bounded(s, MAX_SUBJECT, Lines::One))
        .transpose()?
        .filter(|s| *s != state.subject);
    let comment = comment
        .map(|c| bounded(c, MAX_TEXT, Lines::Many))
        .transpose()?;
    if subject.is_none() && comment.is_none() {
        return Err(DomainError::NoChange);
    }
    Ok(vec![TicketEvent::Updated { subject, comment }])
}

pub fn decide_close(
    state: &TicketState,
    resolution: &str,
) -> Result<Vec<TicketEvent>, DomainError> {
    open(state)?;
    Ok(vec![TicketEvent::Closed {
        resolution: bounded(resolution, MAX_TEXT, Lines::Many)?,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_ticket_is_opened_updated_and_closed_once() {
        let state = decide_open(
            &TicketState::default(),
            TicketId(Uuid::nil()),
            AccountId(Uuid::nil()),
            "Wall dark",
            "Since 9am",
        )
        .unwrap()
        .iter()
        .fold(TicketState::default(), evolve);
        assert_eq!(
            decide_update(&state, Some("Wall dark"), None),
            Err(DomainError::NoChange)
        );
        let state = decide_update(&state, Some("Wall 1 dark"), Some("rebooted"))
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert_eq!(state.subject, "Wall 1 dark");
        let state = decide_close(&state, "cable replaced")
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert_eq!(
            decide_close(&state, "again"),
            Err(DomainError::TicketClosed)
        );
        assert_eq!(
            decide_update(&state, None, Some("x")),
            Err(DomainError::TicketClosed)
        );
    }
}
