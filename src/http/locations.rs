//! `/v1/users/{id}/trusted-locations`: the IP addresses a user signs in
//! from without a second factor (IP-based 2FA; see `Auth::sign_in_with_code`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::app::{users, Ran};
use crate::domain::ids::UserId;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath};
use crate::http::reads::visible_user;
use crate::http::schemas::{created, Appended, CommandErrors};
use crate::http::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedLocation {
    /// An IPv4 or IPv6 address.
    pub ip: String,
}

/// `POST /v1/users/{id}/trusted-locations` — trust an address (your own,
/// or as an admin); from then on sign-ins from elsewhere need an e-mailed code.
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/trusted-locations",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id")),
    request_body = TrustedLocation,
    responses((status = 201, body = Appended), CommandErrors),
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
    ApiJson(body): ApiJson<TrustedLocation>,
) -> Result<(StatusCode, Json<Appended>), ApiError> {
    if caller.credential.user_id() != Some(user_id) {
        visible_user(&state, &caller, user_id).await?;
    }
    let command = users::SetLocationTrust {
        user_id,
        ip: body.ip,
        trusted: true,
    };
    let ran = caller.run(command).await?;
    Ok(created(Appended::from(&ran.outcome)))
}

/// `DELETE /v1/users/{id}/trusted-locations/{ip}` — stop trusting an address.
#[utoipa::path(
    delete,
    path = "/v1/users/{user_id}/trusted-locations/{ip}",
    tag = "users",
    params(
        ("user_id" = UserId, Path, description = "user id"),
        ("ip" = String, Path, description = "the trusted address"),
    ),
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((user_id, ip)): ApiPath<(UserId, String)>,
) -> Result<Ran, ApiError> {
    if caller.credential.user_id() != Some(user_id) {
        visible_user(&state, &caller, user_id).await?;
    }
    let command = users::SetLocationTrust {
        user_id,
        ip,
        trusted: false,
    };
    caller.run(command).await
}
