//! `proj_invitations`: every invitation and where it stands.

use crate::domain::ids::InvitationId;
use crate::domain::invitation::{InvitationEvent, InvitationTarget};
use crate::domain::role::AccountKind;
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct InvitationsProjector;

const TABLE: &str = "proj_invitations";

impl Projector for InvitationsProjector {
    fn name(&self) -> &'static str {
        "invitations"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((invitation, decoded)) = entity_event::<InvitationEvent>(
            event,
            InvitationId::CATEGORY,
            &InvitationEvent::TYPES,
        )?
        else {
            return Ok(vec![]);
        };
        let update = |set| vec![touch(TABLE, ("invitation_id", &invitation), event, set)];
        let text = |s: &str| SetExpr::Value(SqlValue::text(s));
        Ok(match decoded {
            InvitationEvent::Created {
                email,
                target,
                expires_at,
                ..
            } => {
                let (kind, role, tenant_name) = match &target {
                    InvitationTarget::User { role, .. } => {
                        ("user", Some(role.as_str().to_owned()), None)
                    }
                    InvitationTarget::Tenant {
                        tenant_kind, name, ..
                    } => (
                        if *tenant_kind == AccountKind::Partner {
                            "partner"
                        } else {
                            "organization"
                        },
                        None,
                        Some(name.clone()),
                    ),
                };
                let at = SqlValue::Time(Some(event.recorded_at));
                vec![RowChange::Insert {
                    table: TABLE,
                    columns: vec![
                        ("invitation_id", SqlValue::text(invitation.clone())),
                        (
                            "account_id",
                            SqlValue::text(target.managing_account().to_string()),
                        ),
                        ("email", SqlValue::text(email.as_str())),
                        ("email_key", SqlValue::text(email.normalized())),
                        ("kind", SqlValue::text(kind)),
                        ("role", SqlValue::Text(role)),
                        ("tenant_name", SqlValue::Text(tenant_name)),
                        ("status", SqlValue::text("pending")),
                        ("expires_at", SqlValue::Time(Some(expires_at))),
                        ("accepted_user_id", SqlValue::Text(None)),
                        ("created_at", at.clone()),
                        ("updated_at", at),
                        ("position", SqlValue::Int(Some(event.position as i64))),
                    ],
                    on_conflict: OnConflict::Replace,
                }]
            }
            InvitationEvent::Resent { expires_at, .. } => update(vec![(
                "expires_at",
                SetExpr::Value(SqlValue::Time(Some(expires_at))),
            )]),
            InvitationEvent::Revoked => update(vec![("status", text("revoked"))]),
            InvitationEvent::Accepted { user_id, .. } => update(vec![
                ("status", text("accepted")),
                ("accepted_user_id", text(&user_id.to_string())),
            ]),
        })
    }
}
