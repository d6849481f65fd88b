//! `/v1/sessions` and `/v1/me`: signing in and out, who am I, own password;
//! `/v1/accounts/{id}/sessions`: the sessions read model.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::password::Password;
use crate::domain::ids::{AccountId, SessionId, UserId};
use crate::domain::permissions::Action;
use crate::http::context::{Caller, RequestContext};
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::AccountRows;
use crate::http::reads::ListQuery;
use crate::http::schemas::{created, CommandErrors, ReadErrors};
use crate::http::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
    /// The code e-mailed after a sign-in from a new location answered 401
    /// `second_factor_required` (IP-based 2FA).
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignInResponse {
    pub token: String,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub expires_at: DateTime<Utc>,
    pub position: u64,
}

/// `POST /v1/sessions`
#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    request_body = SignInRequest,
    responses(
        (status = 201, body = SignInResponse),
        // 429 (CommandErrors): also `too_many_attempts`, after 5 failed
        // sign-ins for one address within 15 minutes.
        CommandErrors,
    ),
    security(()),
)]
pub async fn sign_in(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    ApiJson(body): ApiJson<SignInRequest>,
) -> Result<(StatusCode, Json<SignInResponse>), ApiError> {
    let signed_in = state
        .auth
        .sign_in_with_code(
            &context,
            &body.email,
            &body.password,
            body.code.as_deref(),
            Utc::now(),
        )
        .await?;
    Ok(created(SignInResponse {
        token: signed_in.token,
        session_id: signed_in.session_id,
        user_id: signed_in.user_id,
        account_id: signed_in.account_id,
        expires_at: signed_in.expires_at,
        position: signed_in.position,
    }))
}

/// `DELETE /v1/sessions/current`
#[utoipa::path(
    delete,
    path = "/v1/sessions/current",
    tag = "sessions",
    responses((status = 204, description = "signed out"), CommandErrors),
)]
pub async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .sign_out(&caller.context, caller.session()?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub session_id: SessionId,
    pub email: Option<String>,
    pub name: String,
    pub role: Option<String>,
}

/// `GET /v1/me`
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "sessions",
    responses((status = 200, body = Me), ReadErrors),
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let user = state.ledger.user(caller.session()?.user_id).await?;
    Ok(Json(Me {
        user_id: caller.session()?.user_id,
        account_id: caller.session()?.account_id,
        session_id: caller.session()?.session_id,
        email: user.email.map(|e| e.to_string()),
        name: user.name,
        role: user.role.map(|r| r.to_string()),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// `PUT /v1/me/password` — ends every session, this one included.
#[utoipa::path(
    put,
    path = "/v1/me/password",
    tag = "sessions",
    request_body = ChangePassword,
    responses((status = 204, description = "changed; every session ended"), CommandErrors),
)]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    caller.session()?;
    let new = Password::parse(&body.new_password)?;
    state
        .auth
        .change_own_password(&caller.context, &body.current_password, &new, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/accounts/{id}/sessions` — the account's sessions, newest first
/// (open, signed out, revoked or expired; see `proj_sessions`).
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/sessions",
    tag = "sessions",
    params(
        ("account_id" = AccountId, Path, description = "account id"),
        ListQuery,
    ),
    responses((status = 200, body = SessionsPage), ReadErrors),
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<SessionsPage>, ApiError> {
    let page = AccountRows::list(
        Action::ViewUsers,
        crate::projection::sessions::TABLE,
        &SESSIONS,
    )
    .read(&state, &caller, account_id, &query)
    .await?;
    Ok(Json(SessionsPage {
        sessions: page.rows,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionsPage {
    /// Rows of `proj_sessions` (columns in projections/README.md).
    #[schema(value_type = Vec<Object>)]
    pub sessions: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Sessions, newest first, then by id.
const SESSIONS: Keyset = Keyset {
    list: "sessions",
    keys: &[Key::time("opened_at").desc(), Key::text("session_id")],
};
