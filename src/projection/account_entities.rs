//! `proj_account_entities`: the users, licenses and servers created in each
//! account, with where their creating event is in the log — the index that
//! as-of lists and "who could" start from (`app::members`). Rows are never
//! removed: an entity deleted later was still created there, and an as-of
//! read before the deletion lists it (the row holds ids only).

use crate::event::RecordedEvent;
use crate::projection::{OnConflict, ProjectionError, Projector, RowChange, SqlValue};
use crate::read_ports::MemberKind;

pub struct AccountEntitiesProjector;

pub const TABLE: &str = "proj_account_entities";
pub const NAME: &str = "account_entities";

impl Projector for AccountEntitiesProjector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((kind, id_field)) = MemberKind::ALL.into_iter().find_map(|kind| {
            let (event_type, id_field) = kind.created_by();
            (event.event_type.as_str() == event_type).then_some((kind, id_field))
        }) else {
            return Ok(vec![]);
        };
        // Exactly what the log scan of `app::members` accepts: an event
        // without both ids lists nothing there, so it indexes nothing here.
        let payload = event.payload.to_value();
        let (Some(id), Some(account)) =
            (payload[id_field].as_str(), payload["account_id"].as_str())
        else {
            return Ok(vec![]);
        };
        Ok(vec![RowChange::Insert {
            table: TABLE,
            columns: vec![
                ("entity_id", SqlValue::text(id)),
                ("kind", SqlValue::text(kind.name())),
                ("account_id", SqlValue::text(account)),
                ("position", SqlValue::Int(Some(event.position as i64))),
                ("recorded_at", SqlValue::Time(Some(event.recorded_at))),
            ],
            on_conflict: OnConflict::Replace,
        }])
    }
}
