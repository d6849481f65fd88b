//! `proj_invitations`: every invitation and where it stands.

use crate::domain::ids::{InvitationId, UserId};
use crate::domain::invitation::{InvitationEvent, InvitationTarget};
use crate::domain::role::AccountKind;
use crate::domain::user::UserEvent;
use crate::event::RecordedEvent;
use crate::privacy::fields::Kind;
use crate::privacy::subject::Subject;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct InvitationsProjector;

pub const TABLE: &str = "proj_invitations";

impl Projector for InvitationsProjector {
    fn name(&self) -> &'static str {
        "invitations"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        if let Some((_, UserEvent::Purged { invitation_id })) =
            entity_event::<UserEvent>(event, UserId::CATEGORY, &["user.purged"])?
        {
            return Ok(invitation_id.map(erase).into_iter().collect());
        }
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

/// The invitation a purged user signed up through shows the placeholder a
/// rebuild reads once its key is gone.
fn erase(invitation: InvitationId) -> RowChange {
    let placeholder = Kind::Email.erased(&[Subject::invitation(invitation)]);
    RowChange::Update {
        table: TABLE,
        key: ("invitation_id", SqlValue::text(invitation.to_string())),
        set: vec![
            ("email", SetExpr::Value(SqlValue::text(placeholder.clone()))),
            ("email_key", SetExpr::Value(SqlValue::text(placeholder))),
        ],
    }
}
