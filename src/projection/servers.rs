//! `proj_servers`: every server, its settings, the partner-access grant,
//! the license it runs under, and whether it was decommissioned (it stays
//! listed, with its status, as its history stays in the log).

use chrono::{DateTime, Utc};

use crate::domain::ids::ServerId;
use crate::domain::server::ServerEvent;
use crate::event::RecordedEvent;
use crate::projection::query::Condition;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct ServersProjector;

pub const TABLE: &str = "proj_servers";

/// The rows whose customer's grant to its partner stands at `now` (given,
/// and its end, if any, after `now`): what `ServerState::grant_stands`
/// says of one server, asked of the table.
pub fn grant_stands(now: DateTime<Utc>) -> Condition<'static> {
    Condition::Either(vec![vec![
        Condition::Eq("partner_access", SqlValue::Int(Some(1))),
        Condition::Either(vec![
            vec![Condition::IsNull("partner_access_until")],
            vec![Condition::Above(
                "partner_access_until",
                SqlValue::Time(Some(now)),
            )],
        ]),
    ]])
}

/// The grant as a read shows it at `now` (`granted`, `expired`, `none`),
/// from a row of the table.
pub fn grant_state(row: &serde_json::Value, now: DateTime<Utc>) -> &'static str {
    let until = row["partner_access_until"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let given = row["partner_access"].as_i64() == Some(1);
    crate::domain::server::grant_state(given, until, now)
}

fn flag(on: bool) -> SqlValue {
    SqlValue::Int(Some(i64::from(on)))
}

impl Projector for ServersProjector {
    fn name(&self) -> &'static str {
        "servers"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((server, decoded)) =
            entity_event::<ServerEvent>(event, ServerId::CATEGORY, &ServerEvent::TYPES)?
        else {
            return Ok(vec![]);
        };
        let update = |set| vec![touch(TABLE, ("server_id", &server), event, set)];
        Ok(match decoded {
            ServerEvent::Registered {
                account_id,
                name,
                location,
                partner_access,
                ..
            } => {
                let at = SqlValue::Time(Some(event.recorded_at));
                vec![RowChange::Insert {
                    table: TABLE,
                    columns: vec![
                        ("server_id", SqlValue::text(server.clone())),
                        ("account_id", SqlValue::text(account_id.to_string())),
                        ("name", SqlValue::text(name)),
                        ("location", SqlValue::Text(location)),
                        ("notifications", flag(true)),
                        ("partner_access", flag(partner_access.granted)),
                        ("partner_access_until", SqlValue::Time(partner_access.until)),
                        ("last_backup_id", SqlValue::Text(None)),
                        ("license_id", SqlValue::Text(None)),
                        ("status", SqlValue::text("active")),
                        ("decommissioned_at", SqlValue::Time(None)),
                        ("created_at", at.clone()),
                        ("updated_at", at),
                        ("position", SqlValue::Int(Some(event.position as i64))),
                    ],
                    on_conflict: OnConflict::Replace,
                }]
            }
            ServerEvent::Renamed { name } => {
                update(vec![("name", SetExpr::Value(SqlValue::text(name)))])
            }
            ServerEvent::LocationUpdated { location } => {
                update(vec![("location", SetExpr::Value(SqlValue::Text(location)))])
            }
            ServerEvent::NotificationsUpdated { enabled } => {
                update(vec![("notifications", SetExpr::Value(flag(enabled)))])
            }
            ServerEvent::PartnerAccessGranted { until } => update(vec![
                ("partner_access", SetExpr::Value(flag(true))),
                (
                    "partner_access_until",
                    SetExpr::Value(SqlValue::Time(until)),
                ),
            ]),
            ServerEvent::PartnerAccessRevoked => update(vec![
                ("partner_access", SetExpr::Value(flag(false))),
                ("partner_access_until", SetExpr::Value(SqlValue::Time(None))),
            ]),
            ServerEvent::PartnerAccessExtended { until } => update(vec![(
                "partner_access_until",
                SetExpr::Value(SqlValue::Time(until)),
            )]),
            ServerEvent::PartnerAccessExpired { .. } => {
                update(vec![("partner_access", SetExpr::Value(flag(false)))])
            }
            ServerEvent::BackupMade { backup_id } => update(vec![(
                "last_backup_id",
                SetExpr::Value(SqlValue::text(backup_id)),
            )]),
            ServerEvent::LicenseChanged { license_id } => update(vec![(
                "license_id",
                SetExpr::Value(SqlValue::Text(license_id.map(|l| l.to_string()))),
            )]),
            ServerEvent::Decommissioned => update(vec![
                ("status", SetExpr::Value(SqlValue::text("decommissioned"))),
                (
                    "decommissioned_at",
                    SetExpr::Value(SqlValue::Time(Some(event.recorded_at))),
                ),
            ]),
            ServerEvent::ActionPerformed { .. }
            | ServerEvent::ConfigurationUpdated { .. }
            | ServerEvent::BackupRestored { .. } => update(vec![]),
        })
    }
}
