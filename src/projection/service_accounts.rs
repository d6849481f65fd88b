//! `proj_service_accounts`: an account's service accounts, for its list —
//! name, role, customer limit, status and how many keys were issued and
//! revoked. A key's hash never leaves the log; which keys a service
//! account holds, and when each was last used, is read from its stream
//! (`GET /v1/service-accounts/{id}`), where a revocation is never behind.

use crate::domain::ids::ServiceAccountId;
use crate::domain::service_account::ServiceAccountEvent;
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct ServiceAccountsProjector;

pub const TABLE: &str = "proj_service_accounts";

fn ids(ids: &[crate::domain::ids::AccountId]) -> SqlValue {
    SqlValue::Json(Some(serde_json::Value::Array(
        ids.iter()
            .map(|id| serde_json::Value::String(id.to_string()))
            .collect(),
    )))
}

impl Projector for ServiceAccountsProjector {
    fn name(&self) -> &'static str {
        "service_accounts"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((id, decoded)) = entity_event::<ServiceAccountEvent>(
            event,
            ServiceAccountId::CATEGORY,
            &ServiceAccountEvent::TYPES,
        )?
        else {
            return Ok(vec![]);
        };
        let update = |set| vec![touch(TABLE, ("service_account_id", &id), event, set)];
        let at = SqlValue::Time(Some(event.recorded_at));
        Ok(match decoded {
            ServiceAccountEvent::Created {
                account_id,
                name,
                role,
                customers,
                ..
            } => vec![RowChange::Insert {
                table: TABLE,
                columns: vec![
                    ("service_account_id", SqlValue::text(id.clone())),
                    ("account_id", SqlValue::text(account_id.to_string())),
                    ("name", SqlValue::text(name)),
                    ("role", SqlValue::text(role.to_string())),
                    ("customers", ids(&customers)),
                    ("status", SqlValue::text("active")),
                    ("keys_issued", SqlValue::Int(Some(0))),
                    ("keys_revoked", SqlValue::Int(Some(0))),
                    ("created_at", at.clone()),
                    ("deactivated_at", SqlValue::Time(None)),
                    ("updated_at", at),
                    ("position", SqlValue::Int(Some(event.position as i64))),
                ],
                on_conflict: OnConflict::Replace,
            }],
            ServiceAccountEvent::Changed {
                name,
                role,
                customers,
            } => {
                let mut set = Vec::new();
                if let Some(name) = name {
                    set.push(("name", SetExpr::Value(SqlValue::text(name))));
                }
                if let Some(role) = role {
                    set.push(("role", SetExpr::Value(SqlValue::text(role.to_string()))));
                }
                if let Some(customers) = customers {
                    set.push(("customers", SetExpr::Value(ids(&customers))));
                }
                update(set)
            }
            ServiceAccountEvent::Deactivated => update(vec![
                ("status", SetExpr::Value(SqlValue::text("deactivated"))),
                ("deactivated_at", SetExpr::Value(at)),
            ]),
            ServiceAccountEvent::KeyIssued { .. } => update(vec![("keys_issued", SetExpr::Add(1))]),
            ServiceAccountEvent::KeyRevoked { .. } => {
                update(vec![("keys_revoked", SetExpr::Add(1))])
            }
        })
    }
}
