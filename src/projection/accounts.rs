//! `proj_accounts`: every account as it stands.

use crate::domain::account::AccountEvent;
use crate::domain::ids::AccountId;
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct AccountsProjector;

pub const TABLE: &str = "proj_accounts";

impl Projector for AccountsProjector {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((account, decoded)) =
            entity_event::<AccountEvent>(event, AccountId::CATEGORY, &AccountEvent::TYPES)?
        else {
            return Ok(vec![]);
        };
        let at = SqlValue::Time(Some(event.recorded_at));
        let position = SqlValue::Int(Some(event.position as i64));
        let update = |set| vec![touch(TABLE, ("account_id", &account), event, set)];
        Ok(match decoded {
            AccountEvent::Created {
                kind, name, parent, ..
            } => vec![RowChange::Insert {
                table: TABLE,
                columns: vec![
                    ("account_id", SqlValue::text(account.clone())),
                    ("kind", SqlValue::text(kind_name(kind))),
                    ("name", SqlValue::text(name)),
                    ("parent_id", SqlValue::Text(parent.map(|p| p.to_string()))),
                    ("status", SqlValue::text("active")),
                    ("primary_admin_id", SqlValue::Text(None)),
                    ("admin_count", SqlValue::Int(Some(0))),
                    ("created_at", at.clone()),
                    ("updated_at", at.clone()),
                    ("position", position.clone()),
                ],
                on_conflict: OnConflict::Replace,
            }],
            AccountEvent::Renamed { name } => {
                update(vec![("name", SetExpr::Value(SqlValue::text(name)))])
            }
            AccountEvent::Deleted => {
                update(vec![("status", SetExpr::Value(SqlValue::text("deleted")))])
            }
            AccountEvent::AdminAdded { user_id } => update(vec![
                ("admin_count", SetExpr::Add(1)),
                (
                    "primary_admin_id",
                    SetExpr::IfUnset(SqlValue::text(user_id.to_string())),
                ),
            ]),
            AccountEvent::AdminRemoved { .. } => update(vec![("admin_count", SetExpr::Add(-1))]),
            AccountEvent::OwnershipTransferred { to, .. } => update(vec![(
                "primary_admin_id",
                SetExpr::Value(SqlValue::text(to.to_string())),
            )]),
        })
    }
}

fn kind_name(kind: crate::domain::role::AccountKind) -> &'static str {
    use crate::domain::role::AccountKind;
    match kind {
        AccountKind::Platform => "platform",
        AccountKind::Partner => "partner",
        AccountKind::Organization => "organization",
    }
}
