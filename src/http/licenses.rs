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
use crate::http::history::{list_as_of, ListAt};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::AccountRows;
use crate::http::schemas::{
    created, Appended, CommandErrors, LicenseCreated, LicensesPage, ReadErrors,
};
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
)]
pub async fn create(
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<CreateLicense>,
) -> Result<(StatusCode, Json<LicenseCreated>), ApiError> {
    let license_id = LicenseId(Uuid::now_v7());
    let outcome = caller
        .run(command::CreateLicense {
            account_id,
            license_id,
            product: body.product,
            seats: body.seats,
        })
        .await?;
    Ok(created(LicenseCreated {
        license_id,
        position: outcome.last_position(),
    }))
}

/// `GET /v1/accounts/{id}/licenses` — billing data: not for Support.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/licenses",
    tag = "licenses",
    params(("account_id" = AccountId, Path, description = "account id"), ListAt),
    responses((status = 200, body = LicensesPage), ReadErrors),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(at): ApiQuery<ListAt>,
) -> Result<Json<LicensesPage>, ApiError> {
    let page = match at.as_of {
        Some(_) => {
            list_as_of(
                &state,
                &caller,
                account_id,
                MemberKind::License,
                &at,
                "",
                |_| true,
            )
            .await?
        }
        None => {
            AccountRows::list(
                Action::ViewLicenses,
                crate::projection::licenses::LICENSES,
                &LICENSES,
            )
            .read(&state, &caller, account_id, &at.live())
            .await?
        }
    };
    Ok(Json(LicensesPage {
        licenses: page.rows,
        next_cursor: page.next_cursor,
    }))
}

/// Licenses by product, then id (neither changes once created).
const LICENSES: Keyset = Keyset {
    list: "licenses",
    keys: &[Key::text("product"), Key::text("license_id")],
};

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
)]
pub async fn change_seats(
    caller: Caller,
    ApiPath(license_id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<Seats>,
) -> Result<Ran, ApiError> {
    caller
        .run(command::ChangeSeats {
            license_id,
            seats: body.seats,
        })
        .await
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
)]
pub async fn assign(
    caller: Caller,
    ApiPath(license_id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<Users>,
) -> Result<Ran, ApiError> {
    caller
        .run(command::AssignLicense {
            license_id,
            users: body.user_ids,
        })
        .await
}

/// `POST /v1/licenses/{id}/releases` — revoke the seats of many users.
#[utoipa::path(
    post,
    path = "/v1/licenses/{license_id}/releases",
    tag = "licenses",
    params(("license_id" = LicenseId, Path, description = "license id")),
    request_body = Users,
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn release(
    caller: Caller,
    ApiPath(license_id): ApiPath<LicenseId>,
    ApiJson(body): ApiJson<Users>,
) -> Result<Ran, ApiError> {
    caller
        .run(command::ReleaseLicense {
            license_id,
            users: body.user_ids,
        })
        .await
}

/// `POST /v1/licenses/{id}/cancel`
#[utoipa::path(
    post,
    path = "/v1/licenses/{license_id}/cancel",
    tag = "licenses",
    params(("license_id" = LicenseId, Path, description = "license id")),
    responses((status = 200, body = Appended), CommandErrors),
)]
pub async fn cancel(
    caller: Caller,
    ApiPath(license_id): ApiPath<LicenseId>,
) -> Result<Ran, ApiError> {
    caller.run(command::CancelLicense { license_id }).await
}
