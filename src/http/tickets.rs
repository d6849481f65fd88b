//! `/v1/accounts/{id}/tickets` and `/v1/tickets/…`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::tickets as command;
use crate::app::Ran;
use crate::domain::ids::{AccountId, TicketId};
use crate::domain::permissions::Action;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::AccountRows;
use crate::http::reads::ListQuery;
use crate::http::schemas::{created, Appended, CommandErrors, ReadErrors};
use crate::http::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenTicket {
    pub subject: String,
    pub description: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketOpened {
    pub ticket_id: TicketId,
    pub position: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketsPage {
    #[schema(value_type = Vec<Object>)]
    pub tickets: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    pub subject: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseTicket {
    pub resolution: String,
}

#[utoipa::path(post, path = "/v1/accounts/{account_id}/tickets", tag = "tickets",
    params(("account_id" = AccountId, Path, description = "account id")), request_body = OpenTicket,
    responses((status = 201, body = TicketOpened), CommandErrors))]
pub async fn open(
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<OpenTicket>,
) -> Result<(StatusCode, Json<TicketOpened>), ApiError> {
    let ticket_id = TicketId(Uuid::now_v7());
    let outcome = caller
        .run(command::OpenTicket {
            account_id,
            ticket_id,
            subject: body.subject,
            description: body.description,
        })
        .await?;
    Ok(created(TicketOpened {
        ticket_id,
        position: outcome.last_position(),
    }))
}

#[utoipa::path(get, path = "/v1/accounts/{account_id}/tickets", tag = "tickets",
    params(("account_id" = AccountId, Path, description = "account id"), ListQuery),
    responses((status = 200, body = TicketsPage), ReadErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<TicketsPage>, ApiError> {
    let page = AccountRows::list(
        Action::ViewTickets,
        crate::projection::tickets::TABLE,
        &TICKETS,
    )
    .read(&state, &caller, account_id, &query)
    .await?;
    Ok(Json(TicketsPage {
        tickets: page.rows,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(patch, path = "/v1/tickets/{ticket_id}", tag = "tickets",
    params(("ticket_id" = TicketId, Path, description = "ticket id")), request_body = UpdateTicket,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn update(
    caller: Caller,
    ApiPath(ticket_id): ApiPath<TicketId>,
    ApiJson(body): ApiJson<UpdateTicket>,
) -> Result<Ran, ApiError> {
    caller
        .run(command::UpdateTicket {
            ticket_id,
            subject: body.subject,
            comment: body.comment,
        })
        .await
}

#[utoipa::path(post, path = "/v1/tickets/{ticket_id}/close", tag = "tickets",
    params(("ticket_id" = TicketId, Path, description = "ticket id")), request_body = CloseTicket,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn close(
    caller: Caller,
    ApiPath(ticket_id): ApiPath<TicketId>,
    ApiJson(body): ApiJson<CloseTicket>,
) -> Result<Ran, ApiError> {
    caller
        .run(command::CloseTicket {
            ticket_id,
            resolution: body.resolution,
        })
        .await
}

/// Tickets, newest first, then by id.
const TICKETS: Keyset = Keyset {
    list: "tickets",
    keys: &[Key::time("created_at").desc(), Key::text("ticket_id")],
};
