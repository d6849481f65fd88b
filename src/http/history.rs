//! `/v1/history/{type}/{id}` (an entity's events with before/after views)
//! and the `as_of` answers of the read endpoints — computed from the log
//! (`app::history`), because read models only know the present.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::history::{AsOf, Entity, HistoryEntry};
use crate::app::members::MemberKind;
use crate::app::reading::list_action;
use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiPath};
use crate::http::paging::{fingerprint, PageRequest};
use crate::http::reads::{ListQuery, Page};
use crate::http::schemas::ReadErrors;
use crate::http::AppState;

/// Reads that can look back: `position` waits for the read models (as
/// every read), `as_of` answers from the log instead.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadAt {
    /// Wait until the read models have applied this position.
    pub position: Option<u64>,
    /// The state at a past moment: a log position (`1234`) or a time
    /// (RFC 3339); computed from the log.
    pub as_of: Option<String>,
}

/// Lists that can look back: [`ReadAt`] and the page (see `paging.rs`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListAt {
    /// Wait until the read models have applied this position.
    pub position: Option<u64>,
    /// The list at a past moment: a log position (`1234`) or a time
    /// (RFC 3339); computed from the log.
    pub as_of: Option<String>,
    /// Rows per page: 1 to 500, 100 by default.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page (of this same query).
    pub cursor: Option<String>,
}

impl ListAt {
    /// The live list's query (without `as_of`).
    pub(crate) fn live(&self) -> ListQuery {
        ListQuery {
            position: self.position,
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

pub(crate) fn parse_as_of(text: &str) -> Result<AsOf, ApiError> {
    AsOf::parse(text).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_as_of", e))
}

/// One entity at a moment, or 404 if it did not exist then.
pub(crate) async fn entity_as_of(
    state: &AppState,
    entity: Entity,
    as_of: AsOf,
) -> Result<Value, ApiError> {
    state
        .ledger
        .view_as_of(entity, as_of)
        .await?
        .filter(|v| v["status"] != "absent")
        .ok_or_else(ApiError::not_found)
}

/// The entities of one kind in an account as they stood at `as_of` (the
/// `?as_of=` text), for whoever may `action` there now — and of a
/// customer's servers, a partner's staff see those they may read now
/// (`Ledger::authorize_read`). Paged like every list, in the order the
/// entities were created, keyed by id (the set at a past moment does not
/// change); `keep` filters before the page is cut.
pub(crate) async fn list_as_of(
    state: &AppState,
    caller: &Caller,
    account: AccountId,
    kind: MemberKind,
    query: &ListAt,
    filter_label: &str,
    keep: impl Fn(&Value) -> bool,
) -> Result<Page, ApiError> {
    let as_of_text = query.as_of.as_deref().unwrap_or_default();
    let as_of = parse_as_of(as_of_text)?;
    let account_text = account.to_string();
    let page = PageRequest::parse(
        query.limit,
        query.cursor.as_deref(),
        fingerprint(
            &format!("{}s as of", kind.name()),
            &[&account_text, as_of_text, filter_label],
        ),
    )?;
    let ledger = &state.ledger;
    let scope = ledger
        .authorize_list(&caller.context, list_action(kind), account)
        .await?;
    let ids = ledger.created_in_account(kind, account, as_of).await?;
    let mut rows = Vec::new();
    for id in &ids[page.start_in(&ids)?..] {
        if rows.len() == page.fetch_limit() {
            break;
        }
        let Some(entity) = Entity::parse(kind.name(), id) else {
            continue;
        };
        if let (Entity::Server(server), true) = (entity, scope.via_partner) {
            if !ledger.partner_may_read_server(server).await? {
                continue;
            }
        }
        if let Some(view) = ledger.view_as_of(entity, as_of).await? {
            if keep(&view) {
                rows.push((id.clone(), view));
            }
        }
    }
    let (rows, next_cursor) = page.finish_keyed(rows);
    Ok(Page { rows, next_cursor })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct History {
    pub entity_type: String,
    pub entity_id: String,
    /// Oldest first; `before` / `after` hold only the fields that changed.
    pub entries: Vec<HistoryEntry>,
}

/// `GET /v1/history/{entity_type}/{entity_id}` — every event of a user,
/// account, license, server, ticket or quote, with what it changed.
#[utoipa::path(
    get,
    path = "/v1/history/{entity_type}/{entity_id}",
    tag = "activity",
    params(
        ("entity_type" = String, Path, description = "user | account | license | server | ticket | quote | service_account"),
        ("entity_id" = String, Path, description = "its id"),
    ),
    responses((status = 200, body = History), ReadErrors),
)]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((entity_type, entity_id)): ApiPath<(String, String)>,
) -> Result<Json<History>, ApiError> {
    let entity = Entity::parse(&entity_type, &entity_id).ok_or_else(ApiError::not_found)?;
    let ledger = state.ledger;
    // An entity's history is reading the entity: the same question as
    // every other surface that shows it.
    ledger.authorize_read(&caller.context, entity).await?;
    Ok(Json(History {
        entity_type,
        entity_id,
        entries: ledger.history(entity).await?,
    }))
}

/// Filters of the "who could" question.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    /// The moment (a position or an RFC 3339 time); now when absent.
    pub as_of: Option<String>,
    /// Narrow to one of the account's servers (partner access matters);
    /// with `customer_id`, one of the customer's servers.
    pub server_id: Option<crate::domain::ids::ServerId>,
    /// For a partner: only its staff, in this one of its customers (what
    /// the customer's own answer shows of the partner). 404 when it is not
    /// the account's customer (then) or the caller may not audit it.
    pub customer_id: Option<AccountId>,
    /// Only users who could do this action (e.g. `server_action`,
    /// `delete_user`).
    pub action: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessAnswer {
    pub account_id: AccountId,
    /// The customer asked about, when `customer_id` was given.
    pub customer_id: Option<AccountId>,
    /// Everyone with access, their role, what they could do and why.
    pub users: Vec<crate::app::access::Access>,
}

/// `GET /v1/accounts/{id}/access` — who could do what in the account (or
/// on one of its servers) at a moment, and which events granted it.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/access",
    tag = "activity",
    params(("account_id" = AccountId, Path, description = "account id"), AccessQuery),
    responses((status = 200, body = AccessAnswer), ReadErrors),
)]
pub async fn who_could(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    crate::http::error::ApiQuery(query): crate::http::error::ApiQuery<AccessQuery>,
) -> Result<Json<AccessAnswer>, ApiError> {
    let ledger = state.ledger;
    ledger
        .authorize_in(&caller.context, Action::ViewActivityLog, account_id)
        .await?;
    let as_of = match &query.as_of {
        Some(text) => parse_as_of(text)?,
        None => AsOf::Position(u64::MAX),
    };
    let action = match &query.action {
        None => None,
        Some(name) => Some(
            serde_json::from_value::<Action>(Value::String(name.clone())).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_action",
                    format!("no action {name:?}"),
                )
            })?,
        ),
    };
    let mut users = match query.customer_id {
        None => ledger.who_could(account_id, query.server_id, as_of).await?,
        Some(customer) => {
            ledger
                .authorize_in(&caller.context, Action::ViewActivityLog, customer)
                .await?;
            if !ledger.customer_of(customer, account_id, as_of).await? {
                return Err(ApiError::not_found());
            }
            let mut users = ledger.who_could(customer, query.server_id, as_of).await?;
            users.retain(|u| u.account_id == account_id);
            users
        }
    };
    if let Some(action) = action {
        users.retain(|u| u.actions.contains(&action));
    }
    Ok(Json(AccessAnswer {
        account_id,
        customer_id: query.customer_id,
        users,
    }))
}
