//! `proj_licenses` and `proj_license_assignments`: subscriptions, their
//! seats, and who holds one (to filter users by license).

use crate::domain::ids::LicenseId;
use crate::domain::license::LicenseEvent;
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct LicensesProjector;

pub const LICENSES: &str = "proj_licenses";
pub const ASSIGNMENTS: &str = "proj_license_assignments";

impl Projector for LicensesProjector {
    fn name(&self) -> &'static str {
        "licenses"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[LICENSES, ASSIGNMENTS]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((license, decoded)) =
            entity_event::<LicenseEvent>(event, LicenseId::CATEGORY, &LicenseEvent::TYPES)?
        else {
            return Ok(vec![]);
        };
        let update = |set| touch(LICENSES, ("license_id", &license), event, set);
        Ok(match decoded {
            LicenseEvent::Created {
                account_id,
                product,
                seats,
                ..
            } => {
                let at = SqlValue::Time(Some(event.recorded_at));
                vec![RowChange::Insert {
                    table: LICENSES,
                    columns: vec![
                        ("license_id", SqlValue::text(license.clone())),
                        ("account_id", SqlValue::text(account_id.to_string())),
                        ("product", SqlValue::text(product)),
                        ("seats", SqlValue::Int(Some(i64::from(seats)))),
                        ("assigned_count", SqlValue::Int(Some(0))),
                        ("status", SqlValue::text("active")),
                        ("created_at", at.clone()),
                        ("updated_at", at),
                        ("position", SqlValue::Int(Some(event.position as i64))),
                    ],
                    on_conflict: OnConflict::Replace,
                }]
            }
            LicenseEvent::SeatsChanged { to, .. } => {
                vec![update(vec![(
                    "seats",
                    SetExpr::Value(SqlValue::Int(Some(i64::from(to)))),
                )])]
            }
            LicenseEvent::Assigned { user_ids } => {
                let mut changes = vec![update(vec![(
                    "assigned_count",
                    SetExpr::Add(user_ids.len() as i64),
                )])];
                changes.extend(user_ids.iter().map(|user| RowChange::Insert {
                    table: ASSIGNMENTS,
                    columns: vec![
                        ("license_id", SqlValue::text(license.clone())),
                        ("user_id", SqlValue::text(user.to_string())),
                    ],
                    on_conflict: OnConflict::Ignore,
                }));
                changes
            }
            LicenseEvent::Released { user_ids, .. } => {
                let mut changes = vec![update(vec![(
                    "assigned_count",
                    SetExpr::Add(-(user_ids.len() as i64)),
                )])];
                changes.extend(user_ids.iter().map(|user| RowChange::Delete {
                    table: ASSIGNMENTS,
                    key: vec![
                        ("license_id", SqlValue::text(license.clone())),
                        ("user_id", SqlValue::text(user.to_string())),
                    ],
                }));
                changes
            }
            LicenseEvent::Cancelled => vec![update(vec![(
                "status",
                SetExpr::Value(SqlValue::text("cancelled")),
            )])],
            // Which server runs under which license is `proj_servers.license_id`.
            LicenseEvent::ServerAttached { .. } | LicenseEvent::ServerDetached { .. } => {
                vec![update(vec![])]
            }
        })
    }
}
