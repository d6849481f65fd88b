//! `/v1/accounts/{id}/service-accounts` and `/v1/service-accounts/…`:
//! machines' identities and their API keys.
//!
//! A key is shown once, in the answer that issues it; afterwards only its
//! prefix (the part that names it), its name, dates, status and last use
//! are readable. Reading service accounts is `ViewServiceAccounts`,
//! managing them `ManageServiceAccounts`, which only a person may do
//! (`Action::needs_a_person`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::service_accounts as command;
use crate::app::Ran;
use crate::auth::api_key::prefix_of;
use crate::domain::ids::{AccountId, ApiKeyId, ServiceAccountId};
use crate::domain::permissions::{Action, Denied};
use crate::domain::service_account::KeyStatus;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::{AccountRows, ListQuery};
use crate::http::schemas::{created, Appended, CommandErrors, ReadErrors};
use crate::http::users::parse_role;
use crate::http::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccount {
    /// 1 to 100 characters, one line.
    pub name: String,
    /// One of the account's roles (as for people).
    pub role: String,
    /// On a partner: the customer organizations it works for (absent or
    /// empty: all of them).
    #[serde(default)]
    pub customers: Vec<AccountId>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceAccountCreated {
    pub service_account_id: ServiceAccountId,
    pub position: u64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeServiceAccount {
    pub name: Option<String>,
    pub role: Option<String>,
    /// The new customer limit (empty: all of the partner's customers).
    pub customers: Option<Vec<AccountId>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueKey {
    /// What the key is for, 1 to 100 characters ("CI", "billing sync").
    pub name: String,
    /// When the key stops working (RFC 3339, in the future); absent: until
    /// revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyIssued {
    pub key_id: ApiKeyId,
    /// The key: send it as `Authorization: Bearer <key>`. Shown only
    /// here, never again.
    pub key: String,
    /// The part of the key that names it (not secret).
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub position: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceAccountsPage {
    /// Oldest first: `service_account_id`, `account_id`, `name`, `role`,
    /// `customers`, `status` (`active` or `deactivated`), `keys_issued`,
    /// `keys_revoked`, `created_at`, `deactivated_at`.
    #[schema(value_type = Vec<Object>)]
    pub service_accounts: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One key, without its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub key_id: ApiKeyId,
    pub prefix: String,
    pub name: String,
    pub status: KeyStatus,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// To the minute; absent: never used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A service account as it stands now, read from its stream.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceAccountView {
    pub service_account_id: ServiceAccountId,
    pub account_id: AccountId,
    pub name: String,
    pub role: String,
    pub customers: Vec<AccountId>,
    /// `active` or `deactivated`.
    pub status: &'static str,
    pub created_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    /// Every key it was ever issued, oldest first.
    pub keys: Vec<ApiKeyView>,
}

#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts", tag = "service accounts",
    params(("account_id" = AccountId, Path, description = "account id")),
    request_body = CreateServiceAccount,
    responses((status = 201, body = ServiceAccountCreated), CommandErrors))]
pub async fn create(
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<CreateServiceAccount>,
) -> Result<(StatusCode, Json<ServiceAccountCreated>), ApiError> {
    let service_account_id = ServiceAccountId(Uuid::now_v7());
    let ran = caller
        .run(command::CreateServiceAccount {
            account_id,
            service_account_id,
            name: body.name,
            role: parse_role(&body.role)?,
            customers: body.customers,
        })
        .await?;
    Ok(created(ServiceAccountCreated {
        service_account_id,
        position: ran.last_position(),
    }))
}

#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts", tag = "service accounts",
    params(("account_id" = AccountId, Path, description = "account id"), ListQuery),
    responses((status = 200, body = ServiceAccountsPage), ReadErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ServiceAccountsPage>, ApiError> {
    let page = AccountRows::list(
        Action::ViewServiceAccounts,
        crate::projection::service_accounts::TABLE,
        &SERVICE_ACCOUNTS,
    )
    .read(&state, &caller, account_id, &query)
    .await?;
    Ok(Json(ServiceAccountsPage {
        service_accounts: page.rows,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/service-accounts/{service_account_id}", tag = "service accounts",
    params(("service_account_id" = ServiceAccountId, Path, description = "service account id")),
    responses((status = 200, body = ServiceAccountView), ReadErrors))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ServiceAccountId>,
) -> Result<Json<ServiceAccountView>, ApiError> {
    let service_account = state.ledger.service_account(id).await?;
    let account_id = service_account.account_id.ok_or(Denied::Hidden)?;
    state
        .ledger
        .authorize_in(&caller.context, Action::ViewServiceAccounts, account_id)
        .await?;
    let key_ids: Vec<ApiKeyId> = service_account.keys.keys().copied().collect();
    let last_uses = state.auth.credentials.last_uses(&key_ids).await?;
    let now = Utc::now();
    let mut keys: Vec<ApiKeyView> = service_account
        .keys
        .iter()
        .map(|(key_id, key)| ApiKeyView {
            key_id: *key_id,
            prefix: prefix_of(id, *key_id),
            name: key.name.clone(),
            status: key.status(now),
            issued_at: key.issued_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: last_uses.get(key_id).copied(),
        })
        .collect();
    keys.sort_by_key(|k| (k.issued_at, k.key_id));
    Ok(Json(ServiceAccountView {
        service_account_id: id,
        account_id,
        name: service_account.name,
        role: service_account
            .role
            .map(|r| r.to_string())
            .unwrap_or_default(),
        customers: service_account.customers.into_iter().collect(),
        status: if service_account.deactivated_at.is_some() {
            "deactivated"
        } else {
            "active"
        },
        created_at: service_account.created_at,
        deactivated_at: service_account.deactivated_at,
        keys,
    }))
}

#[utoipa::path(patch, path = "/v1/service-accounts/{service_account_id}", tag = "service accounts",
    params(("service_account_id" = ServiceAccountId, Path, description = "service account id")),
    request_body = ChangeServiceAccount,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn change(
    caller: Caller,
    ApiPath(service_account_id): ApiPath<ServiceAccountId>,
    ApiJson(body): ApiJson<ChangeServiceAccount>,
) -> Result<Ran, ApiError> {
    caller
        .run(command::ChangeServiceAccount {
            service_account_id,
            name: body.name,
            role: body.role.as_deref().map(parse_role).transpose()?,
            customers: body.customers,
        })
        .await
}

#[utoipa::path(delete, path = "/v1/service-accounts/{service_account_id}", tag = "service accounts",
    params(("service_account_id" = ServiceAccountId, Path, description = "service account id")),
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn deactivate(
    caller: Caller,
    ApiPath(service_account_id): ApiPath<ServiceAccountId>,
) -> Result<Ran, ApiError> {
    caller
        .run(command::DeactivateServiceAccount { service_account_id })
        .await
}

#[utoipa::path(post, path = "/v1/service-accounts/{service_account_id}/keys", tag = "service accounts",
    params(("service_account_id" = ServiceAccountId, Path, description = "service account id")),
    request_body = IssueKey,
    responses((status = 201, body = KeyIssued), CommandErrors))]
pub async fn issue_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(service_account_id): ApiPath<ServiceAccountId>,
    ApiJson(body): ApiJson<IssueKey>,
) -> Result<(StatusCode, Json<KeyIssued>), ApiError> {
    let issued = command::issue_key(
        &state.ledger,
        &caller.context,
        service_account_id,
        body.name,
        body.expires_at,
        Utc::now(),
    )
    .await?;
    Ok(created(KeyIssued {
        key_id: issued.key_id,
        key: issued.secret,
        prefix: issued.prefix,
        expires_at: body.expires_at,
        position: issued.ran.last_position(),
    }))
}

#[utoipa::path(delete, path = "/v1/service-accounts/{service_account_id}/keys/{key_id}",
    tag = "service accounts",
    params(("service_account_id" = ServiceAccountId, Path, description = "service account id"),
        ("key_id" = ApiKeyId, Path, description = "key id")),
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn revoke_key(
    caller: Caller,
    ApiPath((service_account_id, key_id)): ApiPath<(ServiceAccountId, ApiKeyId)>,
) -> Result<Ran, ApiError> {
    caller
        .run(command::RevokeApiKey {
            service_account_id,
            key_id,
        })
        .await
}

/// Service accounts, oldest first, then by id.
const SERVICE_ACCOUNTS: Keyset = Keyset {
    list: "service_accounts",
    keys: &[Key::time("created_at"), Key::text("service_account_id")],
};
