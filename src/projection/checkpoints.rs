//! `proj_checkpoints`: every signed checkpoint in the log, so an auditor can
//! fetch the latest one to pin (`verify-export --expect-head`). The
//! signatures are checked by `verify --checkpoints`, not here.

use crate::event::RecordedEvent;
use crate::integrity::checkpoint::{CheckpointPayload, EVENT_TYPE};
use crate::projection::{OnConflict, ProjectionError, Projector, RowChange, SqlValue};

pub struct CheckpointsProjector;

pub const TABLE: &str = "proj_checkpoints";

impl Projector for CheckpointsProjector {
    fn name(&self) -> &'static str {
        "checkpoints"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        if event.event_type.as_str() != EVENT_TYPE {
            return Ok(vec![]);
        }
        let payload: CheckpointPayload =
            serde_json::from_str(event.payload.as_str()).map_err(|e| ProjectionError::Event {
                position: event.position,
                reason: e.to_string(),
            })?;
        Ok(vec![RowChange::Insert {
            table: TABLE,
            columns: vec![
                ("position", SqlValue::Int(Some(event.position as i64))),
                (
                    "head_position",
                    SqlValue::Int(Some(payload.head_position as i64)),
                ),
                ("head_hash", SqlValue::text(payload.head_hash)),
                ("tree_root", SqlValue::Text(payload.tree_root)),
                ("accounts_root", SqlValue::Text(payload.accounts_root)),
                ("key_id", SqlValue::text(payload.key_id)),
                ("signature", SqlValue::text(payload.signature)),
                ("recorded_at", SqlValue::Time(Some(event.recorded_at))),
            ],
            on_conflict: OnConflict::Replace,
        }])
    }
}
