//! `/v1/accounts/…` and `/v1/users/…`: tenants and their users.
//!
//! Commands answer with the `position` they appended; reads take an
//! optional `?position=` and wait (bounded) until the projections have
//! reached it, so a client reads its own writes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::app::history::Entity;
use crate::app::members::MemberKind;
use crate::app::Ran;
use crate::app::{accounts, users};
use crate::auth::password::Password;
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, LicenseId, UserId};
use crate::domain::permissions::Action;
use crate::domain::role::{AccountKind, Role};
use crate::domain::user::{NewUser, Origin};
use crate::domain::username::Username;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::history::{entity_as_of, list_as_of, parse_as_of, ListAt, ReadAt};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::{account_row, caught_up, visible_user, AccountRows, ListQuery, ReadAfter};
use crate::http::schemas::{
    created, AccountCreated, Appended, CommandErrors, ReadErrors, Restored, UserCreated, UsersPage,
};
use crate::http::AppState;
use crate::projection::query::Condition;
use crate::projection::SqlValue;

fn parse_email(text: &str) -> Result<Email, ApiError> {
    Email::parse(text).map_err(|e| ApiError::invalid("invalid_email", e.to_string()))
}

fn parse_username(text: &str) -> Result<Username, ApiError> {
    Username::parse(text).map_err(|e| ApiError::invalid("invalid_username", e.to_string()))
}

/// A role named in a request body: 422 `unknown_role` otherwise.
pub(crate) fn parse_role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text).map_err(|e| ApiError::invalid("unknown_role", e.to_string()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    pub kind: AccountKind,
    pub name: String,
    /// The owning partner of an organization, or the platform for a
    /// partner; defaults to the caller's account.
    pub parent_id: Option<AccountId>,
}

/// `POST /v1/accounts`
#[utoipa::path(
    post,
    path = "/v1/accounts",
    tag = "accounts",
    request_body = CreateAccount,
    responses((status = 201, body = AccountCreated), CommandErrors),
)]
pub async fn create_account(
    caller: Caller,
    ApiJson(body): ApiJson<CreateAccount>,
) -> Result<(StatusCode, Json<AccountCreated>), ApiError> {
    if body.kind == AccountKind::Platform {
        return Err(ApiError::invalid(
            "invalid_kind",
            "the platform account exists once, made by bootstrap",
        ));
    }
    let account_id = AccountId(Uuid::now_v7());
    let parent = body.parent_id.unwrap_or(caller.credential.account_id());
    let command = accounts::CreateAccount {
        account_id,
        kind: body.kind,
        name: body.name,
        parent: Some(parent),
    };
    let outcome = caller.run(command).await?;
    Ok(created(AccountCreated {
        account_id,
        position: outcome.last_position(),
    }))
}

/// `GET /v1/accounts/{id}`
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}",
    tag = "accounts",
    params(("account_id" = AccountId, Path, description = "account id"), ReadAt),
    responses((status = 200, body = Object), ReadErrors),
)]
pub async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(after): ApiQuery<ReadAt>,
) -> Result<Json<Value>, ApiError> {
    if let Some(as_of) = &after.as_of {
        let as_of = parse_as_of(as_of)?;
        state
            .ledger
            .authorize_read(&caller.context, Entity::Account(account_id))
            .await?;
        return Ok(Json(
            entity_as_of(&state, Entity::Account(account_id), as_of).await?,
        ));
    }
    account_row(
        &state,
        &caller,
        Action::ViewAccount,
        crate::projection::accounts::TABLE,
        account_id,
        after.position,
    )
    .await?
    .map(Json)
    .ok_or_else(ApiError::not_found)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameAccount {
    pub name: String,
}

/// `PATCH /v1/accounts/{id}` — rename.
#[utoipa::path(
    patch,
    path = "/v1/accounts/{account_id}",
    tag = "accounts",
    params(("account_id" = AccountId, Path, description = "account id")),
    request_body = RenameAccount,
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn rename_account(
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<RenameAccount>,
) -> Result<Ran, ApiError> {
    let command = accounts::RenameAccount {
        account_id,
        name: body.name,
    };
    caller.run(command).await
}

/// `DELETE /v1/accounts/{id}` — its users can no longer sign in; history stays.
#[utoipa::path(
    delete,
    path = "/v1/accounts/{account_id}",
    tag = "accounts",
    params(("account_id" = AccountId, Path, description = "account id")),
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn delete_account(
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
) -> Result<Ran, ApiError> {
    let command = accounts::DeleteAccount { account_id };
    caller.run(command).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferOwnership {
    /// The new owner: another active admin of the account.
    pub user_id: UserId,
}

/// `PUT /v1/accounts/{id}/owner` — the owner hands ownership (primary
/// admin) to another active admin of the account.
///
/// Only the current owner may: the owner "cannot be edited, demoted or
/// deleted by other admins" and ownership "moves only by an explicit
/// transfer" (PRODUCT.md), so the matrix's `UpdateAccount` is necessary but
/// not enough — other admins of the account, its partner's admins and the
/// platform's admins get 409 `only_owner_transfers`. The new owner must
/// already be an active admin (409 `transfer_target_not_admin`); make them
/// one with `PUT /v1/users/{id}/role` first. The former owner stays an
/// admin.
#[utoipa::path(
    put,
    path = "/v1/accounts/{account_id}/owner",
    tag = "accounts",
    params(("account_id" = AccountId, Path, description = "account id")),
    request_body = TransferOwnership,
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn transfer_ownership(
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<TransferOwnership>,
) -> Result<Ran, ApiError> {
    let command = accounts::TransferOwnership {
        account_id,
        to: body.user_id,
    };
    caller.run(command).await
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// Wait until the read models have applied this position.
    pub position: Option<u64>,
    /// Only the users holding a seat of this license (applied before the
    /// page is cut).
    pub license: Option<LicenseId>,
    /// The users as they were at a log position or time (from the log).
    pub as_of: Option<String>,
    /// Rows per page: 1 to 500, 100 by default.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page (of this same query).
    pub cursor: Option<String>,
}

/// Users in the order they were created, then by id: keys that never
/// change, so pages hold still while users are renamed or deleted.
const USERS: Keyset = Keyset {
    list: "users",
    keys: &[Key::time("created_at"), Key::text("user_id")],
};

/// `GET /v1/accounts/{id}/users[?license=…]`
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/users",
    tag = "users",
    params(("account_id" = AccountId, Path, description = "account id"), UsersQuery),
    responses((status = 200, body = UsersPage), ReadErrors),
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> Result<Json<UsersPage>, ApiError> {
    let license = query.license.map(|l| l.to_string());
    let label = format!("license={}", license.as_deref().unwrap_or_default());
    let page = if query.as_of.is_some() {
        let at = ListAt {
            position: query.position,
            as_of: query.as_of.clone(),
            limit: query.limit,
            cursor: query.cursor.clone(),
        };
        let held = license.clone().map(Value::String);
        list_as_of(
            &state,
            &caller,
            account_id,
            MemberKind::User,
            &at,
            &label,
            |user| match &held {
                Some(license) => user["licenses"]
                    .as_array()
                    .is_some_and(|held| held.contains(license)),
                None => true,
            },
        )
        .await?
    } else {
        let mut users =
            AccountRows::list(Action::ViewUsers, crate::projection::users::TABLE, &USERS);
        if let Some(license) = license {
            users = users.filtered(label, Condition::HasElement("licenses", license));
        }
        let list = ListQuery {
            position: query.position,
            limit: query.limit,
            cursor: query.cursor,
        };
        users.read(&state, &caller, account_id, &list).await?
    };
    Ok(Json(UsersPage {
        users: page.rows,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    pub role: String,
    /// Set by the admin; the user signs in with it.
    pub password: String,
    /// Optional: 3 to 32 of `a-z 0-9 . _ -`, starting with a letter or a
    /// digit (lowercased); unique among live users.
    pub username: Option<String>,
}

/// `POST /v1/accounts/{id}/users` — create a user directly, with a password.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/users",
    tag = "users",
    params(("account_id" = AccountId, Path, description = "account id")),
    request_body = CreateUser,
    responses((status = 201, body = UserCreated), CommandErrors),
)]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserCreated>), ApiError> {
    let new = NewUser {
        user_id: UserId(Uuid::now_v7()),
        email: parse_email(&body.email)?,
        name: body.name,
        role: parse_role(&body.role)?,
        origin: Origin::Direct,
        invitation: None,
    };
    let username = body.username.as_deref().map(parse_username).transpose()?;
    let password = Password::parse(&body.password)?;
    let user_id = new.user_id;
    let command = users::CreateUser {
        account_id,
        user: new,
        username,
    };
    caller.run(command).await?;
    let outcome = state
        .auth
        .set_initial_password(&caller.context, user_id, &password, Utc::now())
        .await?;
    Ok(created(UserCreated {
        user_id,
        position: outcome.last_position(),
    }))
}

/// `GET /v1/users/{id}`
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id"), ReadAt),
    responses((status = 200, body = Object), ReadErrors),
)]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
    ApiQuery(at): ApiQuery<ReadAt>,
) -> Result<Json<Value>, ApiError> {
    visible_user(&state, &caller, user_id).await?;
    if let Some(as_of) = &at.as_of {
        let as_of = parse_as_of(as_of)?;
        return Ok(Json(
            entity_as_of(&state, Entity::User(user_id), as_of).await?,
        ));
    }
    caught_up(
        &state,
        &ReadAfter {
            position: at.position,
        },
        &[crate::projection::users::TABLE],
    )
    .await?;
    let rows = state
        .projections
        .target()
        .fetch(
            crate::projection::users::TABLE,
            &[("user_id", SqlValue::text(user_id.to_string()))],
            "user_id",
            1,
        )
        .await?;
    rows.into_iter()
        .next()
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub email: Option<String>,
    /// A new username (see `CreateUser`).
    pub username: Option<String>,
}

/// `PATCH /v1/users/{id}` — name, e-mail and/or username.
#[utoipa::path(
    patch,
    path = "/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id")),
    request_body = UpdateUser,
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Ran, ApiError> {
    let email = body.email.as_deref().map(parse_email).transpose()?;
    let username = body.username.as_deref().map(parse_username).transpose()?;
    visible_user(&state, &caller, user_id).await?;
    let command = users::UpdateProfile {
        user_id,
        name: body.name,
        email,
        username,
    };
    caller.run(command).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: String,
}

/// `PUT /v1/users/{id}/role`
#[utoipa::path(
    put,
    path = "/v1/users/{user_id}/role",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id")),
    request_body = ChangeRole,
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
    ApiJson(body): ApiJson<ChangeRole>,
) -> Result<Ran, ApiError> {
    let role = parse_role(&body.role)?;
    visible_user(&state, &caller, user_id).await?;
    let command = users::ChangeRole { user_id, role };
    caller.run(command).await
}

/// `DELETE /v1/users/{id}` — soft delete.
#[utoipa::path(
    delete,
    path = "/v1/users/{user_id}",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id")),
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<Ran, ApiError> {
    visible_user(&state, &caller, user_id).await?;
    let command = users::DeleteUser { user_id };
    caller.run(command).await
}

/// `POST /v1/users/{id}/restore`
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/restore",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id")),
    responses((status = 200, body = Restored), CommandErrors),
)]
pub async fn restore_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<Json<Restored>, ApiError> {
    visible_user(&state, &caller, user_id).await?;
    let command = users::RestoreUser {
        user_id,
        now: Utc::now(),
    };
    let ran = caller.run(command).await?;
    let (position, not_restored) = (ran.last_position(), ran.output);
    Ok(Json(Restored {
        position,
        licenses_not_restored: not_restored.licenses_not_restored,
        username_not_restored: not_restored
            .username_not_restored
            .map(|u| u.as_str().to_owned()),
    }))
}

/// `POST /v1/users/{id}/logout` — force logout: every session ends.
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/logout",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id")),
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn force_logout(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<Ran, ApiError> {
    visible_user(&state, &caller, user_id).await?;
    let command = users::ForceLogout { user_id };
    caller.run(command).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignCustomers {
    /// The partner's customer organizations this staff member works for;
    /// empty: all of them.
    pub account_ids: Vec<AccountId>,
}

/// `PUT /v1/users/{id}/customers` — partner staff: which customers they see.
#[utoipa::path(
    put,
    path = "/v1/users/{user_id}/customers",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id")),
    request_body = AssignCustomers,
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn assign_customers(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
    ApiJson(body): ApiJson<AssignCustomers>,
) -> Result<Ran, ApiError> {
    visible_user(&state, &caller, user_id).await?;
    let command = users::AssignCustomers {
        user_id,
        customers: body.account_ids,
    };
    caller.run(command).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordReset {
    pub temporary_password: String,
    pub position: u64,
}

/// `POST /v1/users/{id}/password-reset` — a temporary password, shown once.
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/password-reset",
    tag = "users",
    params(("user_id" = UserId, Path, description = "user id")),
    responses((status = 200, body = PasswordReset), CommandErrors),
)]
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<Json<PasswordReset>, ApiError> {
    visible_user(&state, &caller, user_id).await?;
    let (temporary, outcome) = state
        .auth
        .reset_password(&caller.context, user_id, Utc::now())
        .await?;
    Ok(Json(PasswordReset {
        temporary_password: temporary.expose().to_owned(),
        position: outcome.last_position(),
    }))
}
