//! `/v1/accounts/{id}/quotes` and `/v1/quotes/…`: quotes a partner prepares
//! for a customer organization, and the customer's decision.
//!
//! Bodies take numbers as signed integers so that a negative seat count or
//! price is a precise 422 (`invalid_seats`, `invalid_unit_price`) rather
//! than a type error; every field is parsed into the domain's types before
//! the ledger sees it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::app::quotes as command;
use crate::app::Ran;
use crate::domain::ids::{AccountId, QuoteId};
use crate::domain::permissions::Action;
use crate::domain::quote::{Currency, Note, Product, Seats, Terms, TermsChange, UnitPrice};
use crate::domain::DomainError;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::ListQuery;
use crate::http::reads::{caught_up, AccountRows, ReadAfter};
use crate::http::schemas::{created, Appended, CommandErrors, ReadErrors};
use crate::http::AppState;
use crate::projection::SqlValue;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuote {
    pub product: String,
    /// 1 to 1,000,000.
    pub seats: i64,
    /// Price of one seat in cents, 0 to 100,000,000,000.
    pub unit_price_cents: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// `YYYY-MM-DD`, today or later.
    pub valid_until: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateQuote {
    pub product: Option<String>,
    pub seats: Option<i64>,
    pub unit_price_cents: Option<i64>,
    pub currency: Option<String>,
    pub valid_until: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineQuote {
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuoteCreated {
    pub quote_id: QuoteId,
    pub position: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuotesPage {
    #[schema(value_type = Vec<Object>)]
    pub quotes: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn date(text: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| DomainError::InvalidValidUntil)
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

impl CreateQuote {
    fn terms(&self) -> Result<Terms, DomainError> {
        Ok(Terms {
            product: Product::parse(&self.product)?,
            seats: Seats::parse(self.seats)?,
            unit_price: UnitPrice::parse(self.unit_price_cents)?,
            currency: Currency::parse(&self.currency)?,
            valid_until: self.valid_until.as_deref().map(date).transpose()?,
            note: self.note.as_deref().map(Note::parse).transpose()?,
        })
    }
}

impl UpdateQuote {
    fn change(&self) -> Result<TermsChange, DomainError> {
        Ok(TermsChange {
            product: self.product.as_deref().map(Product::parse).transpose()?,
            seats: self.seats.map(Seats::parse).transpose()?,
            unit_price: self.unit_price_cents.map(UnitPrice::parse).transpose()?,
            currency: self.currency.as_deref().map(Currency::parse).transpose()?,
            valid_until: self.valid_until.as_deref().map(date).transpose()?,
            note: self.note.as_deref().map(Note::parse).transpose()?,
        })
    }
}

/// `POST /v1/accounts/{id}/quotes` — a draft for a customer organization.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/quotes", tag = "quotes",
    params(("account_id" = AccountId, Path, description = "the customer organization")),
    request_body = CreateQuote,
    responses((status = 201, body = QuoteCreated), CommandErrors))]
pub async fn create(
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<CreateQuote>,
) -> Result<(StatusCode, Json<QuoteCreated>), ApiError> {
    let terms = body.terms()?;
    let quote_id = QuoteId(Uuid::now_v7());
    let outcome = caller
        .run(command::CreateQuote {
            account_id,
            quote_id,
            terms,
            today: today(),
        })
        .await?;
    Ok(created(QuoteCreated {
        quote_id,
        position: outcome.last_position(),
    }))
}

/// `GET /v1/accounts/{id}/quotes` — billing data: not for Support.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/quotes", tag = "quotes",
    params(("account_id" = AccountId, Path, description = "account id"), ListQuery),
    responses((status = 200, body = QuotesPage), ReadErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<QuotesPage>, ApiError> {
    let page = AccountRows::list(
        Action::ViewQuotes,
        crate::projection::quotes::TABLE,
        &QUOTES,
    )
    .read(&state, &caller, account_id, &query)
    .await?;
    Ok(Json(QuotesPage {
        quotes: page.rows,
        next_cursor: page.next_cursor,
    }))
}

/// `GET /v1/quotes/{id}`
#[utoipa::path(get, path = "/v1/quotes/{quote_id}", tag = "quotes",
    params(("quote_id" = QuoteId, Path, description = "quote id"), ReadAfter),
    responses((status = 200, body = Object), ReadErrors))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(quote_id): ApiPath<QuoteId>,
    ApiQuery(after): ApiQuery<ReadAfter>,
) -> Result<Json<Value>, ApiError> {
    let quote = state.ledger.quote(quote_id).await?;
    let account = quote.account_id.ok_or_else(ApiError::not_found)?;
    state
        .ledger
        .authorize_in(&caller.context, Action::ViewQuotes, account)
        .await?;
    caught_up(&state, &after, &[crate::projection::quotes::TABLE]).await?;
    let rows = state
        .projections
        .target()
        .fetch(
            crate::projection::quotes::TABLE,
            &[("quote_id", SqlValue::text(quote_id.to_string()))],
            "quote_id",
            1,
        )
        .await?;
    rows.into_iter()
        .next()
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

/// `PATCH /v1/quotes/{id}` — a draft's terms.
#[utoipa::path(patch, path = "/v1/quotes/{quote_id}", tag = "quotes",
    params(("quote_id" = QuoteId, Path, description = "quote id")), request_body = UpdateQuote,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn update(
    caller: Caller,
    ApiPath(quote_id): ApiPath<QuoteId>,
    ApiJson(body): ApiJson<UpdateQuote>,
) -> Result<Ran, ApiError> {
    let change = body.change()?;
    caller
        .run(command::UpdateQuote {
            quote_id,
            change,
            today: today(),
        })
        .await
}

/// `POST /v1/quotes/{id}/send` — the customer's admins are e-mailed.
#[utoipa::path(post, path = "/v1/quotes/{quote_id}/send", tag = "quotes",
    params(("quote_id" = QuoteId, Path, description = "quote id")),
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn send(caller: Caller, ApiPath(quote_id): ApiPath<QuoteId>) -> Result<Ran, ApiError> {
    caller
        .run(command::SendQuote {
            quote_id,
            today: today(),
        })
        .await
}

/// `POST /v1/quotes/{id}/withdraw`
#[utoipa::path(post, path = "/v1/quotes/{quote_id}/withdraw", tag = "quotes",
    params(("quote_id" = QuoteId, Path, description = "quote id")),
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn withdraw(
    caller: Caller,
    ApiPath(quote_id): ApiPath<QuoteId>,
) -> Result<Ran, ApiError> {
    caller.run(command::WithdrawQuote { quote_id }).await
}

/// `POST /v1/quotes/{id}/accept` — the customer's admins; records the
/// decision only.
#[utoipa::path(post, path = "/v1/quotes/{quote_id}/accept", tag = "quotes",
    params(("quote_id" = QuoteId, Path, description = "quote id")),
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn accept(caller: Caller, ApiPath(quote_id): ApiPath<QuoteId>) -> Result<Ran, ApiError> {
    caller
        .run(command::AcceptQuote {
            quote_id,
            today: today(),
        })
        .await
}

/// `POST /v1/quotes/{id}/decline` `{reason?}` — the customer's admins.
#[utoipa::path(post, path = "/v1/quotes/{quote_id}/decline", tag = "quotes",
    params(("quote_id" = QuoteId, Path, description = "quote id")), request_body = DeclineQuote,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn decline(
    caller: Caller,
    ApiPath(quote_id): ApiPath<QuoteId>,
    ApiJson(body): ApiJson<DeclineQuote>,
) -> Result<Ran, ApiError> {
    let reason = body.reason.as_deref().map(Note::parse).transpose()?;
    caller.run(command::DeclineQuote { quote_id, reason }).await
}

/// Quotes, newest first, then by id.
const QUOTES: Keyset = Keyset {
    list: "quotes",
    keys: &[Key::time("created_at").desc(), Key::text("quote_id")],
};
