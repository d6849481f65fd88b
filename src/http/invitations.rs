//! `/v1/accounts/{id}/invitations` and `/v1/invitations/…`: inviting users
//! and tenants, the pending-invitations view, and signing up.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::app::invitations::RevokeInvitation;
use crate::app::Ran;
use crate::auth::password::Password;
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, InvitationId};
use crate::domain::invitation::InvitationTarget;
use crate::domain::permissions::Action;
use crate::domain::role::{AccountKind, Role};
use crate::http::context::{Caller, RequestContext};
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::AccountRows;
use crate::http::reads::ListQuery;
use crate::http::schemas::{
    created, Appended, CommandErrors, ErrorBody, InvitationCreated, InvitationResent,
    InvitationsPage, ReadErrors, SignedUp,
};
use crate::http::AppState;
use crate::projection::SqlValue;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// `partner` (the platform invites) or `organization`.
    pub kind: AccountKind,
    pub name: String,
}

/// Either `role` (a user in this account) or `tenant` (a new partner or
/// organization whose first admin the invitee becomes).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    pub email: String,
    pub role: Option<String>,
    pub tenant: Option<TenantSpec>,
}

/// `POST /v1/accounts/{id}/invitations`
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/invitations",
    tag = "invitations",
    params(("account_id" = AccountId, Path, description = "account id")),
    request_body = CreateInvitation,
    responses((status = 201, body = InvitationCreated), CommandErrors),
)]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<CreateInvitation>,
) -> Result<(StatusCode, Json<InvitationCreated>), ApiError> {
    let email =
        Email::parse(&body.email).map_err(|e| ApiError::invalid("invalid_email", e.to_string()))?;
    let target = match (body.role, body.tenant) {
        (Some(role), None) => InvitationTarget::User {
            account_id,
            role: Role::parse(&role)
                .map_err(|e| ApiError::invalid("unknown_role", e.to_string()))?,
        },
        (None, Some(tenant)) => InvitationTarget::Tenant {
            parent_id: account_id,
            tenant_kind: tenant.kind,
            name: tenant.name,
        },
        _ => {
            return Err(ApiError::invalid(
                "role_or_tenant",
                "give exactly one of `role` and `tenant`",
            ))
        }
    };
    let invited = state
        .auth
        .invite(&caller.context, &email, target, Utc::now())
        .await?;
    Ok(created(InvitationCreated {
        invitation_id: invited.invitation_id,
        expires_at: invited.expires_at,
        position: invited.position,
    }))
}

/// `GET /v1/accounts/{id}/invitations` — per invitation whether its signup
/// was completed, per address whether a user exists.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/invitations",
    tag = "invitations",
    params(("account_id" = AccountId, Path, description = "account id"), ListQuery),
    responses((status = 200, body = InvitationsPage), ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<InvitationsPage>, ApiError> {
    let page = AccountRows::list(
        Action::ViewUsers,
        crate::projection::invitations::TABLE,
        &INVITATIONS,
    )
    .read(&state, &caller, account_id, &query)
    .await?;
    let target = state.projections.target();
    let now = Utc::now();
    let mut invitations = Vec::with_capacity(page.rows.len());
    for mut row in page.rows {
        let email_key = row["email_key"].as_str().unwrap_or_default().to_owned();
        let users = target
            .fetch(
                crate::projection::users::TABLE,
                &[("email_key", SqlValue::text(email_key))],
                "user_id",
                10,
            )
            .await?;
        let user_created = users.iter().any(|u| u["status"] != "purged");
        let expired = row["status"] == "pending"
            && row["expires_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t < now);
        if let Some(object) = row.as_object_mut() {
            object.insert(
                "signup_completed".into(),
                json!(object["status"] == "accepted"),
            );
            object.insert("user_created".into(), json!(user_created));
            if expired {
                object.insert("status".into(), json!("expired"));
            }
            object.remove("email_key");
        }
        invitations.push(row);
    }
    Ok(Json(InvitationsPage {
        invitations,
        next_cursor: page.next_cursor,
    }))
}

/// `POST /v1/invitations/{id}/resend`
#[utoipa::path(
    post,
    path = "/v1/invitations/{invitation_id}/resend",
    tag = "invitations",
    params(("invitation_id" = InvitationId, Path, description = "invitation id")),
    responses((status = 200, body = InvitationResent), CommandErrors),
)]
pub async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(invitation_id): ApiPath<InvitationId>,
) -> Result<Json<InvitationResent>, ApiError> {
    let invited = state
        .auth
        .resend_invitation(&caller.context, invitation_id, Utc::now())
        .await?;
    Ok(Json(InvitationResent {
        expires_at: invited.expires_at,
        position: invited.position,
    }))
}

/// `POST /v1/invitations/{id}/revoke`
#[utoipa::path(
    post,
    path = "/v1/invitations/{invitation_id}/revoke",
    tag = "invitations",
    params(("invitation_id" = InvitationId, Path, description = "invitation id")),
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn revoke(
    caller: Caller,
    ApiPath(invitation_id): ApiPath<InvitationId>,
) -> Result<Ran, ApiError> {
    let command = RevokeInvitation { invitation_id };
    caller.run(command).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The code from the invitation e-mail.
    pub code: String,
    pub name: String,
    pub password: String,
}

/// `POST /v1/invitations/accept` — signup; no session needed, the code is
/// the proof.
#[utoipa::path(
    post,
    path = "/v1/invitations/accept",
    tag = "invitations",
    request_body = AcceptInvitation,
    responses((status = 201, body = SignedUp), (status = 410, description = "expired", body = ErrorBody), CommandErrors),
    security(()),
)]
pub async fn accept(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    ApiJson(body): ApiJson<AcceptInvitation>,
) -> Result<(StatusCode, Json<SignedUp>), ApiError> {
    let password = Password::parse(&body.password)?;
    let accepted = state
        .auth
        .accept_invitation(&context, &body.code, &body.name, &password, Utc::now())
        .await?;
    Ok(created(SignedUp {
        user_id: accepted.user_id,
        account_id: accepted.account_id,
        position: accepted.position,
    }))
}

/// Invitations, newest first, then by id.
const INVITATIONS: Keyset = Keyset {
    list: "invitations",
    keys: &[Key::time("created_at").desc(), Key::text("invitation_id")],
};
