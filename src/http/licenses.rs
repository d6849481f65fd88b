//! `/v1/accounts/{id}/licenses` and `/v1/licenses/…`: subscriptions and
//! their seats.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

use crate::app::licenses as command;
use crate::app::members::MemberKind;
use crate::app::Ran;
use crate::domain::ids::{AccountId, LicenseId, UserId};
use crate::domain::permissions::Action;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::history::{list_as_of, parse_as_of, ReadAt};
use crate::http::reads::{rows_in_account, AccountRows, ReadAfter, PAGE_LIMIT};
use crate::http::schemas::{Appended, CommandErrors, LicenseCreated, LicensesPage, ReadErrors};
use crate::http::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLicense {
    pub product: String,
    pub seats: u32,
}

/// `POST /v1/accounts/{id}/licenses`
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/licenses",
    tag = "licenses",
    params(("account_id" = AccountId, Path, description = "account id")),
    request_body = CreateLicense,
    responses((status = 201, body = LicenseCreated), CommandErrors),
    security(("bearer" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<CreateLicense>,
) -> Result<(StatusCode, Json<LicenseCreated>), ApiError> {
    let license_id = LicenseId(Uuid::now_v7());
    let outcome = state
        .ledger
        .run(
            &caller.context,
            command::CreateLicense {
                account_id,
                license_id,
                product: body.product,
                seats: body.seats,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(LicenseCreated {
            license_id,
            position: outcome.last_position(),
        }),
    ))
}

/// `GET /v1/accounts/{id}/licenses` — billing data: not for Support.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/licenses",
    tag = "licenses",
    params(("account_id" = AccountId, Path, description = "account id"), ReadAt),
    responses((status = 200, body = LicensesPage), ReadErrors),
    security(("bearer" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(at): ApiQuery<ReadAt>,
) -> Result<Json<LicensesPage>, ApiError> {
    if let Some(as_of) = &at.as_of {
        let as_of = parse_as_of(as_of)?;
        state
            .ledger
            .authorize_in(&caller.context, Action::ViewLicenses, account_id)
            .await?;
        let licenses = list_as_of(&state, account_id, MemberKind::License, as_of).await?;
        return Ok(Json(LicensesPage { licenses }));
    }
    let after = ReadAfter {
        position: at.position,
    };
    let licenses = rows_in_account(
        &state,
        &caller,
        account_id,
        after.position,
        AccountRows {
            action: Action::ViewLicenses,
            table: crate::projection::licenses::LICENSES,
            order_by: "product, license_id",
            limit: PAGE_LIMIT,
        },
    )
    .await?;
    Ok(Json(LicensesPage { licenses }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Seats {
    pub seats: u32,
}

/// `PUT /v1/licenses/{id}/seats`
#[utoipa::path(
    put,
    path = "/v1/licenses/{license_id}/seats",
    tag = "licenses",
    params(("license_id" = LicenseId, Path, description = "license id")),
    request_body = Seats,
    responses((status = 200, body = Appended), CommandErrors),
    security(("bearer" = [])),
)]
pub async fn change_seats(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(license_id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<Seats>,
) -> Result<Ran, ApiError> {
    let outcome = state
        .ledger
        .run(
            &caller.context,
            command::ChangeSeats {
                license_id,
                seats: body.seats,
            },
        )
        .await?;
    Ok(outcome)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Users {
    pub user_ids: Vec<UserId>,
}

/// `POST /v1/licenses/{id}/assignments` — many users at once, all or none.
#[utoipa::path(
    post,
    path = "/v1/licenses/{license_id}/assignments",
    tag = "licenses",
    params(("license_id" = LicenseId, Path, description = "license id")),
    request_body = Users,
    responses((status = 200, body = Appended), CommandErrors),
    security(("bearer" = [])),
)]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(license_id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<Users>,
) -> Result<Ran, ApiError> {
    let outcome = state
        .ledger
        .run(
            &caller.context,
            command::AssignLicense {
                license_id,
                users: body.user_ids,
            },
        )
        .await?;
    Ok(outcome)
}

/// `POST /v1/licenses/{id}/releases` — revoke the seats of many users.
#[utoipa::path(
    post,
    path = "/v1/licenses/{license_id}/releases",
    tag = "licenses",
    params(("license_id" = LicenseId, Path, description = "license id")),
    request_body = Users,
    responses((status = 200, body = Appended), CommandErrors),
    security(("bearer" = [])),
)]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(license_id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<Users>,
) -> Result<Ran, ApiError> {
    let outcome = state
        .ledger
        .run(
            &caller.context,
            command::ReleaseLicense {
                license_id,
                users: body.user_ids,
            },
        )
        .await?;
    Ok(outcome)
}

/// `POST /v1/licenses/{id}/cancel`
#[utoipa::path(
    post,
    path = "/v1/licenses/{license_id}/cancel",
    tag = "licenses",
    params(("license_id" = LicenseId, Path, description = "license id")),
    responses((status = 200, body = Appended), CommandErrors),
    security(("bearer" = [])),
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(license_id): ApiPath<LicenseId>,
) -> Result<Ran, ApiError> {
    let outcome = state
        .ledger
        .run(&caller.context, command::CancelLicense { license_id })
        .await?;
    Ok(outcome)
}
