//! `proj_activity`: the activity log, one row per command.
//!
//! A command appends several events (a user, its account, an e-mail claim)
//! that share a `command_id` in their metadata; the first of them makes the
//! row and the others find it there (insert-if-absent). Events without a
//! command id (imported histories) get a row each.
//!
//! Erasure: rows remember whose personal data their description holds
//! (`personal_subject`). On `user.purged` the user's descriptions, and the
//! actor e-mail, IP and user agent of their own actions, are blanked — the
//! same values a rebuild reads once the keys are gone (see `crate::privacy`).
//!
//! Searches match the actor e-mail and the description case-insensitively,
//! so each is also stored [`fold`]ed by Rust (`*_folded`): the database's
//! `lower()` would fold differently on each backend (see
//! `crate::projection::query`).

use crate::domain::ids::{InvitationId, UserId};
use crate::domain::user::UserEvent;
use crate::event::RecordedEvent;
use crate::privacy::fields;
use crate::privacy::subject::Subject;
use crate::projection::query::fold;
use crate::projection::{
    entity_event, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct ActivityProjector;

pub const TABLE: &str = "proj_activity";

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
        let folded = |value: &serde_json::Value| SqlValue::Text(value.as_str().map(fold));
        let activity_id = meta["command_id"]
            .as_str()
            .map_or_else(|| event.event_id.to_string(), str::to_owned);
        let personal_subject = match meta["description_names_nobody"] == true {
            true => None,
            false => fields::described(&meta)
                .first()
                .map(|s| s.as_str().to_owned()),
        };
        let targets = match &meta["targets"] {
            serde_json::Value::Array(items) => serde_json::Value::Array(items.clone()),
            _ => serde_json::Value::Array(vec![]),
        };
        let mut changes = vec![RowChange::Insert {
            table: TABLE,
            columns: vec![
                ("activity_id", SqlValue::text(activity_id)),
                ("position", SqlValue::Int(Some(event.position as i64))),
                ("recorded_at", SqlValue::Time(Some(event.recorded_at))),
                ("event_type", SqlValue::text(event.event_type.as_str())),
                ("action_type", text(&meta["action_type"])),
                ("description", text(&meta["description"])),
                ("description_folded", folded(&meta["description"])),
                ("actor_user_id", text(&meta["actor"]["user_id"])),
                ("actor_email", text(&meta["actor"]["email"])),
                ("actor_email_folded", folded(&meta["actor"]["email"])),
                ("account_id", text(&meta["account"])),
                ("on_behalf_of", text(&meta["on_behalf_of"])),
                ("targets", SqlValue::Json(Some(targets))),
                ("ip", text(&meta["ip"])),
                ("user_agent", text(&meta["user_agent"])),
                ("correlation_id", text(&meta["correlation_id"])),
                ("personal_subject", SqlValue::Text(personal_subject)),
                (
                    "outcome",
                    SqlValue::text(if event.event_type.as_str() == "user.location_challenged" {
                        "challenged"
                    } else {
                        "succeeded"
                    }),
                ),
            ],
            on_conflict: OnConflict::Ignore,
        }];
        if let Some((user, UserEvent::Purged { invitation_id })) =
            entity_event::<UserEvent>(event, UserId::CATEGORY, &["user.purged"])?
        {
            changes.extend(erase(&user, invitation_id));
        }
        Ok(changes)
    }
}

/// Blanks what the activity log shows of a purged user.
fn erase(user: &str, invitation: Option<InvitationId>) -> Vec<RowChange> {
    let null = || SetExpr::Value(SqlValue::Text(None));
    let mut changes = vec![RowChange::Update {
        table: TABLE,
        key: ("actor_user_id", SqlValue::text(user)),
        set: vec![
            ("actor_email", null()),
            ("actor_email_folded", null()),
            ("ip", null()),
            ("user_agent", null()),
        ],
    }];
    let subjects = std::iter::once(format!("{}-{user}", UserId::CATEGORY))
        .chain(invitation.map(|i| Subject::invitation(i).as_str().to_owned()));
    for subject in subjects {
        changes.push(RowChange::Update {
            table: TABLE,
            key: ("personal_subject", SqlValue::text(subject)),
            set: vec![
                (
                    "description",
                    SetExpr::Value(SqlValue::text(fields::ERASED_TEXT)),
                ),
                (
                    "description_folded",
                    SetExpr::Value(SqlValue::text(fold(fields::ERASED_TEXT))),
                ),
            ],
        });
    }
    changes
}
