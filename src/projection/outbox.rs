//! `proj_outbox`: every e-mail the service sent, with its recipient and
//! content, from `notification.queued` events (see
//! `domain::notification`). Signup codes are never in it: the log records
//! a placeholder instead.
//!
//! Erasure: on `user.purged` the rows of the user (and of the invitation
//! they signed up through) show the placeholders a rebuild reads once the
//! keys are gone.

use crate::domain::ids::{InvitationId, NotificationId, UserId};
use crate::domain::notification::NotificationEvent;
use crate::domain::user::UserEvent;
use crate::event::RecordedEvent;
use crate::privacy::fields::{Kind, ERASED_TEXT};
use crate::privacy::subject::Subject;
use crate::projection::{
    entity_event, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct OutboxProjector;

pub const TABLE: &str = "proj_outbox";

impl Projector for OutboxProjector {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        if let Some((user, UserEvent::Purged { invitation_id })) =
            entity_event::<UserEvent>(event, UserId::CATEGORY, &["user.purged"])?
        {
            return Ok(erase(&user, invitation_id));
        }
        let Some((
            id,
            NotificationEvent::Queued {
                kind,
                recipient_subject,
                recipient_user_id,
                recipient,
                subject,
                body,
            },
        )) = entity_event::<NotificationEvent>(
            event,
            NotificationId::CATEGORY,
            &NotificationEvent::TYPES,
        )?
        else {
            return Ok(vec![]);
        };
        let meta = event.metadata.to_value();
        Ok(vec![RowChange::Insert {
            table: TABLE,
            columns: vec![
                ("notification_id", SqlValue::text(id)),
                ("kind", SqlValue::text(kind.as_str())),
                (
                    "account_id",
                    SqlValue::Text(meta["account"].as_str().map(str::to_owned)),
                ),
                ("recipient_subject", SqlValue::text(recipient_subject)),
                (
                    "recipient_user_id",
                    SqlValue::Text(recipient_user_id.map(|u| u.to_string())),
                ),
                ("recipient", SqlValue::text(recipient)),
                ("subject", SqlValue::text(subject)),
                ("body", SqlValue::text(body)),
                ("queued_at", SqlValue::Time(Some(event.recorded_at))),
                ("position", SqlValue::Int(Some(event.position as i64))),
            ],
            on_conflict: OnConflict::Replace,
        }])
    }
}

fn erase(user: &str, invitation: Option<InvitationId>) -> Vec<RowChange> {
    let subjects = Subject::parse(&format!("{}-{user}", UserId::CATEGORY))
        .into_iter()
        .chain(invitation.map(Subject::invitation));
    subjects
        .map(|subject| RowChange::Update {
            table: TABLE,
            key: ("recipient_subject", SqlValue::text(subject.as_str())),
            set: vec![
                (
                    "recipient",
                    SetExpr::Value(SqlValue::text(
                        Kind::Email.erased(std::slice::from_ref(&subject)),
                    )),
                ),
                ("body", SetExpr::Value(SqlValue::text(ERASED_TEXT))),
            ],
        })
        .collect()
}
