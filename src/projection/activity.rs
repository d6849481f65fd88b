//! `proj_activity`: the activity log, one row per command.
//!
//! A command appends several events (a user, its account, an e-mail claim)
//! that share a `command_id` in their metadata; the first of them makes the
//! row and the others find it there (insert-if-absent). Events without a
//! command id (imported histories) get a row each.

use crate::event::RecordedEvent;
use crate::projection::{OnConflict, ProjectionError, Projector, RowChange, SqlValue};

pub struct ActivityProjector;

const TABLE: &str = "proj_activity";

impl Projector for ActivityProjector {
    fn name(&self) -> &'static str {
        "activity"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let meta = event.metadata.to_value();
        let text = |value: &serde_json::Value| SqlValue::Text(value.as_str().map(str::to_owned));
        let activity_id = meta["command_id"]
            .as_str()
            .map_or_else(|| event.event_id.to_string(), str::to_owned);
        let targets = match &meta["targets"] {
            serde_json::Value::Array(items) => serde_json::Value::Array(items.clone()),
            _ => serde_json::Value::Array(vec![]),
        };
        Ok(vec![RowChange::Insert {
            table: TABLE,
            columns: vec![
                ("activity_id", SqlValue::text(activity_id)),
                ("position", SqlValue::Int(Some(event.position as i64))),
                ("recorded_at", SqlValue::Time(Some(event.recorded_at))),
                ("event_type", SqlValue::text(event.event_type.as_str())),
                ("action_type", text(&meta["action_type"])),
                ("description", text(&meta["description"])),
                ("actor_user_id", text(&meta["actor"]["user_id"])),
                ("actor_email", text(&meta["actor"]["email"])),
                ("account_id", text(&meta["account"])),
                ("on_behalf_of", text(&meta["on_behalf_of"])),
                ("targets", SqlValue::Json(Some(targets))),
                ("ip", text(&meta["ip"])),
                ("user_agent", text(&meta["user_agent"])),
                ("correlation_id", text(&meta["correlation_id"])),
            ],
            on_conflict: OnConflict::Ignore,
        }])
    }
}
