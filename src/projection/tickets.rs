//! `proj_tickets`: support tickets and their status.

use crate::domain::ids::TicketId;
use crate::domain::ticket::TicketEvent;
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct TicketsProjector;

pub const TABLE: &str = "proj_tickets";

impl Projector for TicketsProjector {
    fn name(&self) -> &'static str {
        "tickets"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((ticket, decoded)) =
            entity_event::<TicketEvent>(event, TicketId::CATEGORY, &TicketEvent::TYPES)?
        else {
            return Ok(vec![]);
        };
        let update = |set| vec![touch(TABLE, ("ticket_id", &ticket), event, set)];
        Ok(match decoded {
            TicketEvent::Opened {
                account_id,
                subject,
                ..
            } => {
                let at = SqlValue::Time(Some(event.recorded_at));
                vec![RowChange::Insert {
                    table: TABLE,
                    columns: vec![
                        ("ticket_id", SqlValue::text(ticket.clone())),
                        ("account_id", SqlValue::text(account_id.to_string())),
                        ("subject", SqlValue::text(subject)),
                        ("status", SqlValue::text("open")),
                        ("comment_count", SqlValue::Int(Some(0))),
                        ("resolution", SqlValue::Text(None)),
                        ("created_at", at.clone()),
                        ("updated_at", at),
                        ("position", SqlValue::Int(Some(event.position as i64))),
                    ],
                    on_conflict: OnConflict::Replace,
                }]
            }
            TicketEvent::Updated { subject, comment } => {
                let mut set = Vec::new();
                if let Some(subject) = subject {
                    set.push(("subject", SetExpr::Value(SqlValue::text(subject))));
                }
                if comment.is_some() {
                    set.push(("comment_count", SetExpr::Add(1)));
                }
                update(set)
            }
            TicketEvent::Closed { resolution } => update(vec![
                ("status", SetExpr::Value(SqlValue::text("closed"))),
                ("resolution", SetExpr::Value(SqlValue::text(resolution))),
            ]),
        })
    }
}
