//! `proj_sessions`: every session with when it opened, when it expires, and
//! how it ended (signed out, or revoked by a force logout, a password or
//! e-mail change, a deletion). A session is live while `closed_at` and
//! `revoked_at` are NULL and `expires_at` is in the future. Sign-in itself
//! checks the log, not this table; it is for portal UIs and auditors.

use crate::domain::ids::{SessionId, UserId};
use crate::domain::session::SessionEvent;
use crate::domain::user::UserEvent;
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct SessionsProjector;

pub const TABLE: &str = "proj_sessions";

impl Projector for SessionsProjector {
    fn name(&self) -> &'static str {
        "sessions"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let at = SqlValue::Time(Some(event.recorded_at));
        if let Some((user, UserEvent::SessionsRevoked)) =
            entity_event::<UserEvent>(event, UserId::CATEGORY, &["user.sessions_revoked"])?
        {
            // Every session of the user opened so far ends (later ones are
            // not in the table yet, so a rebuild sets the same rows).
            return Ok(vec![RowChange::Update {
                table: TABLE,
                key: ("user_id", SqlValue::text(user)),
                set: vec![("revoked_at", SetExpr::IfUnset(at))],
            }]);
        }
        if let Some((user, UserEvent::Purged { .. })) =
            entity_event::<UserEvent>(event, UserId::CATEGORY, &["user.purged"])?
        {
            // Where they signed in from is personal data, erased with them.
            let null = || SetExpr::Value(SqlValue::Text(None));
            return Ok(vec![RowChange::Update {
                table: TABLE,
                key: ("user_id", SqlValue::text(user)),
                set: vec![("ip", null()), ("user_agent", null())],
            }]);
        }
        let Some((session, decoded)) =
            entity_event::<SessionEvent>(event, SessionId::CATEGORY, &SessionEvent::TYPES)?
        else {
            return Ok(vec![]);
        };
        let meta = event.metadata.to_value();
        let text = |v: &serde_json::Value| SqlValue::Text(v.as_str().map(str::to_owned));
        Ok(match decoded {
            SessionEvent::Opened {
                user_id,
                account_id,
                expires_at,
                ..
            } => vec![RowChange::Insert {
                table: TABLE,
                columns: vec![
                    ("session_id", SqlValue::text(session)),
                    ("user_id", SqlValue::text(user_id.to_string())),
                    ("account_id", SqlValue::text(account_id.to_string())),
                    ("opened_at", at),
                    ("expires_at", SqlValue::Time(Some(expires_at))),
                    ("closed_at", SqlValue::Time(None)),
                    ("close_reason", SqlValue::Text(None)),
                    ("revoked_at", SqlValue::Time(None)),
                    ("ip", text(&meta["ip"])),
                    ("user_agent", text(&meta["user_agent"])),
                    ("position", SqlValue::Int(Some(event.position as i64))),
                ],
                on_conflict: OnConflict::Replace,
            }],
            SessionEvent::Closed { reason } => vec![RowChange::Update {
                table: TABLE,
                key: ("session_id", SqlValue::text(session)),
                set: vec![
                    ("closed_at", SetExpr::Value(at)),
                    (
                        "close_reason",
                        SetExpr::Value(SqlValue::Text(
                            serde_json::to_value(reason)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned)),
                        )),
                    ),
                ],
            }],
        })
    }
}
