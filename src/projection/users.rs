//! `proj_users`: every user as the log leaves them (purged users keep a row
//! with their personal fields emptied), with role, status, the customers a
//! partner's staff member is assigned to and the licenses held.
//!
//! Licenses come from the user's own stream: every seat assigned or
//! released (by an assignment, a release, a cancellation, an import, a
//! restore) also appends `user.license_assigned` / `_released` there, and
//! `user.deleted` releases them all, so the projector needs no license
//! events and each row changes only with its user's events.

use crate::domain::ids::UserId;
use crate::domain::notification::Frequency;
use crate::domain::user::{Origin, UserEvent};
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct UsersProjector;

pub const TABLE: &str = "proj_users";
/// Trusted login locations, one row per user and address.
const LOCATIONS: &str = "proj_trusted_locations";

impl Projector for UsersProjector {
    fn name(&self) -> &'static str {
        "users"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE, LOCATIONS]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((user, decoded)) =
            entity_event::<UserEvent>(event, UserId::CATEGORY, &UserEvent::TYPES)?
        else {
            return Ok(vec![]);
        };
        let at = SqlValue::Time(Some(event.recorded_at));
        let position = SqlValue::Int(Some(event.position as i64));
        let update = |set| vec![touch(TABLE, ("user_id", &user), event, set)];
        let text = |s: &str| SetExpr::Value(SqlValue::text(s));
        Ok(match decoded {
            UserEvent::Created {
                account_id,
                email,
                name,
                role,
                origin,
                username,
                ..
            } => vec![RowChange::Insert {
                table: TABLE,
                columns: vec![
                    ("user_id", SqlValue::text(user.clone())),
                    ("account_id", SqlValue::text(account_id.to_string())),
                    ("email", SqlValue::text(email.as_str())),
                    ("email_key", SqlValue::text(email.normalized())),
                    ("name", SqlValue::text(name)),
                    (
                        "username",
                        SqlValue::Text(username.map(|u| u.as_str().to_owned())),
                    ),
                    ("role", SqlValue::text(role.as_str())),
                    ("status", SqlValue::text("active")),
                    ("origin", SqlValue::text(origin_name(origin))),
                    ("created_at", at.clone()),
                    ("deleted_at", SqlValue::Time(None)),
                    ("assigned_customers", ids(&[])),
                    ("licenses", ids(&[])),
                    ("updated_at", at.clone()),
                    ("position", position.clone()),
                ],
                on_conflict: OnConflict::Replace,
            }],
            UserEvent::RoleChanged { to, .. } => update(vec![("role", text(to.as_str()))]),
            UserEvent::ProfileUpdated {
                name,
                email,
                username,
            } => {
                let mut set = Vec::new();
                if let Some(username) = username {
                    set.push(("username", text(username.as_str())));
                }
                if let Some(name) = name {
                    set.push(("name", SetExpr::Value(SqlValue::text(name))));
                }
                if let Some(email) = email {
                    set.push(("email", text(email.as_str())));
                    set.push(("email_key", text(&email.normalized())));
                }
                update(set)
            }
            UserEvent::Deleted { .. } => update(vec![
                ("status", text("deleted")),
                ("deleted_at", SetExpr::Value(at.clone())),
                ("licenses", SetExpr::Value(ids(&[]))),
            ]),
            UserEvent::Restored {
                role,
                without_username,
            } => {
                let mut set = vec![
                    ("status", text("active")),
                    ("role", text(role.as_str())),
                    ("deleted_at", SetExpr::Value(SqlValue::Time(None))),
                ];
                if without_username {
                    set.push(("username", SetExpr::Value(SqlValue::Text(None))));
                }
                update(set)
            }
            UserEvent::LicenseAssigned { license_id } => update(vec![(
                "licenses",
                SetExpr::JsonSetInsert(SqlValue::text(license_id.to_string())),
            )]),
            UserEvent::LicenseReleased { license_id } => update(vec![(
                "licenses",
                SetExpr::JsonSetRemove(SqlValue::text(license_id.to_string())),
            )]),
            UserEvent::CustomersAssigned { customers } => {
                let customers: Vec<String> = customers.iter().map(|c| c.to_string()).collect();
                update(vec![(
                    "assigned_customers",
                    SetExpr::Value(ids(&customers)),
                )])
            }
            UserEvent::SessionsRevoked
            | UserEvent::PasswordChanged { .. }
            | UserEvent::LocationChallenged { .. } => update(vec![]),
            UserEvent::TrustedLocationAdded { ip } => {
                let mut changes = update(vec![]);
                changes.push(RowChange::Insert {
                    table: LOCATIONS,
                    columns: vec![
                        ("user_id", SqlValue::text(user.clone())),
                        ("ip", SqlValue::text(ip)),
                        ("added_at", at.clone()),
                        ("position", position.clone()),
                    ],
                    on_conflict: OnConflict::Ignore,
                });
                changes
            }
            UserEvent::TrustedLocationRemoved { ip } => {
                let mut changes = update(vec![]);
                changes.push(RowChange::Delete {
                    table: LOCATIONS,
                    key: vec![
                        ("user_id", SqlValue::text(user.clone())),
                        ("ip", SqlValue::text(ip)),
                    ],
                });
                changes
            }
            UserEvent::NotificationPreferencesChanged { preferences } => update(vec![
                (
                    "notify_frequency",
                    text(match preferences.frequency {
                        Frequency::Daily => "daily",
                        Frequency::Weekly => "weekly",
                    }),
                ),
                (
                    "notify_categories",
                    SetExpr::Value(SqlValue::Json(
                        serde_json::to_value(&preferences.categories).ok(),
                    )),
                ),
            ]),
            UserEvent::Purged { .. } => {
                let mut changes = update(vec![
                    ("status", text("purged")),
                    ("email", SetExpr::Value(SqlValue::Text(None))),
                    ("email_key", SetExpr::Value(SqlValue::Text(None))),
                    ("name", SetExpr::Value(SqlValue::Text(None))),
                    ("username", SetExpr::Value(SqlValue::Text(None))),
                ]);
                changes.push(RowChange::Delete {
                    table: LOCATIONS,
                    key: vec![("user_id", SqlValue::text(user.clone()))],
                });
                changes
            }
        })
    }
}

/// A JSON array of ids, distinct and sorted by bytes (as
/// [`SetExpr::JsonSetInsert`] keeps them).
fn ids(items: &[String]) -> SqlValue {
    let sorted: std::collections::BTreeSet<&str> = items.iter().map(String::as_str).collect();
    SqlValue::Json(Some(serde_json::Value::from(
        sorted.into_iter().collect::<Vec<_>>(),
    )))
}

fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::Bootstrap => "bootstrap",
        Origin::Direct => "direct",
        Origin::Invitation => "invitation",
        Origin::Import => "import",
    }
}
