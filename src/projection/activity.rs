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

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::ids::{InvitationId, UserId};
use crate::domain::user::UserEvent;
use crate::event::RecordedEvent;
use crate::privacy::fields;
use crate::privacy::subject::Subject;
use crate::projection::query::fold;
use crate::projection::{
    entity_event, BulkTable, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
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

    /// A row per command, never deleted, the first event's wins.
    fn bulk_tables(&self) -> &'static [BulkTable] {
        &[BulkTable {
            table: TABLE,
            key: "activity_id",
            first_by: "position",
        }]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let meta = RowMetadata::of(event);
        let actor = meta.actor.map(Actor::of).unwrap_or_default();
        let activity_id = text(meta.command_id).unwrap_or_else(|| event.event_id.to_string());
        let targets = match meta.targets.map(|t| serde_json::from_str(t.get())) {
            Some(Ok(serde_json::Value::Array(items))) => serde_json::Value::Array(items),
            _ => serde_json::Value::Array(vec![]),
        };
        let personal_subject = match meta.description_names_nobody.map(RawValue::get) {
            Some("true") => None,
            _ => fields::described_by_targets(&targets)
                .first()
                .map(|s| s.as_str().to_owned()),
        };
        let description = text(meta.description);
        let actor_email = text(actor.email);
        let folded = |value: &Option<String>| SqlValue::Text(value.as_deref().map(fold));
        let mut changes = vec![RowChange::Insert {
            table: TABLE,
            columns: vec![
                ("activity_id", SqlValue::text(activity_id)),
                ("position", SqlValue::Int(Some(event.position as i64))),
                ("recorded_at", SqlValue::Time(Some(event.recorded_at))),
                ("event_type", SqlValue::text(event.event_type.as_str())),
                ("action_type", SqlValue::Text(text(meta.action_type))),
                ("description_folded", folded(&description)),
                ("description", SqlValue::Text(description)),
                ("actor_user_id", SqlValue::Text(text(actor.user_id))),
                ("actor_email_folded", folded(&actor_email)),
                ("actor_email", SqlValue::Text(actor_email)),
                (
                    "actor_service_account_id",
                    SqlValue::Text(text(actor.service_account_id)),
                ),
                ("actor_name", SqlValue::Text(text(actor.name))),
                ("actor_api_key_id", SqlValue::Text(text(actor.api_key_id))),
                ("account_id", SqlValue::Text(text(meta.account))),
                ("on_behalf_of", SqlValue::Text(text(meta.on_behalf_of))),
                ("targets", SqlValue::Json(Some(targets))),
                ("ip", SqlValue::Text(text(meta.ip))),
                ("user_agent", SqlValue::Text(text(meta.user_agent))),
                ("correlation_id", SqlValue::Text(text(meta.correlation_id))),
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

/// The metadata fields a row shows, read without building the whole
/// document (the activity log reads every event's metadata, the largest
/// share of a rebuild's decoding). Each is the raw JSON value, taken as
/// text only where it is a string: another value, like a missing field,
/// reads as NULL, so no metadata the log accepted stops the projector.
#[derive(Default, Deserialize)]
struct RowMetadata<'a> {
    #[serde(borrow)]
    command_id: Option<&'a RawValue>,
    #[serde(borrow)]
    description_names_nobody: Option<&'a RawValue>,
    #[serde(borrow)]
    action_type: Option<&'a RawValue>,
    #[serde(borrow)]
    description: Option<&'a RawValue>,
    #[serde(borrow)]
    actor: Option<&'a RawValue>,
    #[serde(borrow)]
    account: Option<&'a RawValue>,
    #[serde(borrow)]
    on_behalf_of: Option<&'a RawValue>,
    #[serde(borrow)]
    targets: Option<&'a RawValue>,
    #[serde(borrow)]
    ip: Option<&'a RawValue>,
    #[serde(borrow)]
    user_agent: Option<&'a RawValue>,
    #[serde(borrow)]
    correlation_id: Option<&'a RawValue>,
}

impl<'a> RowMetadata<'a> {
    /// Metadata is a canonical JSON object (no repeated member), so this
    /// reads it; the default (every field NULL) is for completeness.
    fn of(event: &'a RecordedEvent) -> Self {
        serde_json::from_str(event.metadata.as_str()).unwrap_or_default()
    }
}

/// The actor's fields a row shows (an actor that is not an object has
/// none).
#[derive(Default, Deserialize)]
struct Actor<'a> {
    #[serde(borrow)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    email: Option<&'a RawValue>,
    #[serde(borrow)]
    service_account_id: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    api_key_id: Option<&'a RawValue>,
}

impl<'a> Actor<'a> {
    fn of(raw: &'a RawValue) -> Self {
        serde_json::from_str(raw.get()).unwrap_or_default()
    }
}

/// A raw value as text if it is a JSON string.
fn text(raw: Option<&RawValue>) -> Option<String> {
    raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok())
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
