//! `/v1/users/{id}/notification-preferences` (digest settings) and
//! `/v1/accounts/{id}/outbox` (every e-mail the service sent there).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::users::SetNotificationPreferences;
use crate::app::Ran;
use crate::domain::ids::{AccountId, UserId};
use crate::domain::notification::{Category, Frequency, Preferences};
use crate::domain::permissions::Action;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::ListQuery;
use crate::http::reads::{visible_user, AccountRows};
use crate::http::schemas::{Appended, CommandErrors, ReadErrors};
use crate::http::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// `daily`, or `weekly` (delivered Monday morning).
    pub frequency: Frequency,
    /// What digests tell about; none selected means none sent.
    pub categories: Vec<Category>,
}

/// `PUT /v1/users/{id}/notification-preferences` — digest settings (your
/// own, or as an admin).
#[utoipa::path(
    put,
    path = "/v1/users/{user_id}/notification-preferences",
    tag = "notifications",
    params(("user_id" = UserId, Path, description = "user id")),
    request_body = NotificationPreferences,
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn set_preferences(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
    ApiJson(body): ApiJson<NotificationPreferences>,
) -> Result<Ran, ApiError> {
    if caller.credential.user_id() != Some(user_id) {
        visible_user(&state, &caller, user_id).await?;
    }
    let preferences = Preferences {
        frequency: body.frequency,
        categories: body.categories.into_iter().collect(),
    };
    let command = SetNotificationPreferences {
        user_id,
        preferences,
    };
    caller.run(command).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxPage {
    /// Rows of `proj_outbox`, newest first (columns in projections/README.md).
    #[schema(value_type = Vec<Object>)]
    pub emails: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /v1/accounts/{id}/outbox` — the e-mails sent for an account's
/// commands (invitations, resets, revoked access, digests), newest first.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/outbox",
    tag = "notifications",
    params(
        ("account_id" = AccountId, Path, description = "account id"),
        ListQuery,
    ),
    responses((status = 200, body = OutboxPage), ReadErrors),
)]
pub async fn list_outbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<OutboxPage>, ApiError> {
    let page = AccountRows::list(Action::ViewUsers, crate::projection::outbox::TABLE, &OUTBOX)
        .read(&state, &caller, account_id, &query)
        .await?;
    Ok(Json(OutboxPage {
        emails: page.rows,
        next_cursor: page.next_cursor,
    }))
}

/// E-mails, newest first (the position of the event that queued each),
/// then by id.
const OUTBOX: Keyset = Keyset {
    list: "outbox",
    keys: &[Key::int("position").desc(), Key::text("notification_id")],
};
