//! The activity log for auditors and portal UIs: search with combinable
//! filters, newest first, keyset pages behind an opaque cursor; and the same
//! search exported as CSV or NDJSON, streamed page by page (nothing is
//! buffered whole).
//!
//! Who sees what is decided once per request (`Ledger::visibility`): a
//! platform auditor everything, a partner's the partner and the customers
//! they work for, an organization's their organization — and of those
//! customers, a partner's staff do not see the entries naming a server
//! whose grant does not stand, as they may not read the server itself.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;
use crate::domain::visibility::Visibility;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiPath, ApiQuery};
use crate::http::reads::{caught_up, ReadAfter};
use crate::http::schemas::ReadErrors;
use crate::http::AppState;
use crate::projection::activity_search::{
    conditions, encode_cursor, search_conditions, window_conditions, ActivityFilter, SearchError,
    ORDER_BY, TABLE,
};
use crate::projection::query::Condition;
use crate::projection::{activity, SqlValue};

/// Entries per page by default, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;
/// Rows per page while exporting.
const EXPORT_PAGE: usize = 1000;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivitySearchPage {
    /// Entries, newest first: `position`, `recorded_at`, `event_type`,
    /// `action_type`, `description`, `actor_user_id`, `actor_email` (at that
    /// time), `actor_service_account_id`, `actor_name` and `actor_api_key_id`
    /// (a service account acting through a key), `account_id`, `on_behalf_of`, `targets`, `ip`, `user_agent`,
    /// `outcome`, `correlation_id`.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message.into())
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Invalid { code, message } => bad(code, message),
            SearchError::AccountHidden => ApiError::not_found(),
            SearchError::ReadModel(e) => e.into(),
        }
    }
}

/// An entry as the API shows it (the erasure bookkeeping and the folded
/// search columns stay inside).
fn entry(mut row: Value) -> Value {
    if let Some(object) = row.as_object_mut() {
        object.remove("personal_subject");
        object.remove("activity_id");
        object.remove("actor_email_folded");
        object.remove("description_folded");
    }
    row
}

/// Who the caller is as an auditor: the accounts they may audit, and the
/// entries left out of those (see [`hidden_servers`]).
struct Audience {
    visibility: Visibility,
    hidden: Vec<Condition<'static>>,
}

async fn audience(state: &AppState, caller: &Caller) -> Result<Audience, ApiError> {
    let own = caller.credential.account_id();
    let customers: Vec<AccountId> = state
        .projections
        .target()
        .fetch(
            crate::projection::accounts::TABLE,
            &[("parent_id", SqlValue::text(own.to_string()))],
            "account_id",
            1_000_000,
        )
        .await?
        .iter()
        .filter_map(|r| r["account_id"].as_str()?.parse().ok())
        .map(AccountId)
        .collect();
    let visibility = state
        .ledger
        .visibility(&caller.context, Action::ViewActivityLog, &customers)
        .await?;
    // The accounts seen as a partner's customer (not the platform's
    // everything, not one's own).
    let via_partner: Vec<AccountId> = match &visibility {
        Visibility::All => Vec::new(),
        Visibility::Accounts(accounts) => accounts.iter().copied().filter(|a| *a != own).collect(),
    };
    let hidden = hidden_servers(state, &via_partner).await?;
    Ok(Audience { visibility, hidden })
}

/// An entry about a server shows the server: a partner's staff, who read a
/// customer's server only while its grant stands (`Ledger::authorize_read`),
/// do not see the entries naming the servers of `customers` whose grant
/// does not stand — one condition each.
async fn hidden_servers(
    state: &AppState,
    customers: &[AccountId],
) -> Result<Vec<Condition<'static>>, ApiError> {
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    let accounts = customers
        .iter()
        .map(|a| SqlValue::text(a.to_string()))
        .collect();
    let ungranted = state
        .projections
        .target()
        .query(
            crate::projection::servers::TABLE,
            &[
                Condition::In("account_id", accounts),
                Condition::NoneOf(vec![crate::projection::servers::grant_stands(Utc::now())]),
            ],
            "server_id",
            usize::MAX >> 1,
        )
        .await?;
    Ok(ungranted
        .iter()
        .filter_map(|row| row["server_id"].as_str())
        .map(|id| Condition::LacksTarget {
            column: "targets",
            kind: "server".to_owned(),
            id: id.to_owned(),
        })
        .collect())
}

async fn page(
    state: &AppState,
    filter: &ActivityFilter,
    audience: &Audience,
) -> Result<ActivitySearchPage, ApiError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad("invalid_limit", format!("limit is 1 to {MAX_LIMIT}")));
    }
    caught_up(
        state,
        &ReadAfter {
            position: filter.position,
        },
        &[activity::TABLE],
    )
    .await?;
    let target = state.projections.target();
    let mut conditions = search_conditions(target.as_ref(), filter, &audience.visibility).await?;
    conditions.extend(audience.hidden.iter().cloned());
    // One more than the page: a next cursor only when another page follows.
    let mut rows = target
        .query(TABLE, &conditions, ORDER_BY, limit + 1)
        .await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more
        .then(|| rows.last().and_then(|r| r["position"].as_u64()))
        .flatten()
        .map(|last| encode_cursor(filter, last));
    Ok(ActivitySearchPage {
        entries: rows.into_iter().map(entry).collect(),
        next_cursor,
    })
}

/// `GET /v1/activity` — search every account the caller may audit.
#[utoipa::path(
    get,
    path = "/v1/activity",
    tag = "activity",
    params(ActivityFilter),
    responses((status = 200, body = ActivitySearchPage), ReadErrors),
)]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<ActivityFilter>,
) -> Result<Json<ActivitySearchPage>, ApiError> {
    let audience = audience(&state, &caller).await?;
    Ok(Json(page(&state, &filter, &audience).await?))
}

/// `GET /v1/accounts/{id}/activity` — one account's log, with the same
/// filters.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/activity",
    tag = "activity",
    params(("account_id" = AccountId, Path, description = "account id"), ActivityFilter),
    responses((status = 200, body = ActivitySearchPage), ReadErrors),
)]
pub async fn list_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(mut filter): ApiQuery<ActivityFilter>,
) -> Result<Json<ActivitySearchPage>, ApiError> {
    let scope = state
        .ledger
        .authorize_list(&caller.context, Action::ViewActivityLog, account_id)
        .await?;
    filter.account_id = Some(account_id);
    let audience = Audience {
        visibility: Visibility::Accounts(vec![account_id]),
        hidden: match scope.via_partner {
            true => hidden_servers(&state, &[account_id]).await?,
            false => Vec::new(),
        },
    };
    Ok(Json(page(&state, &filter, &audience).await?))
}

const CSV_COLUMNS: [&str; 17] = [
    "position",
    "recorded_at",
    "event_type",
    "action_type",
    "description",
    "actor_user_id",
    "actor_email",
    "actor_service_account_id",
    "actor_name",
    "actor_api_key_id",
    "account_id",
    "on_behalf_of",
    "targets",
    "ip",
    "user_agent",
    "outcome",
    "correlation_id",
];

fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(rows: &[Value], ndjson: bool, header: bool) -> Result<Bytes, ApiError> {
    if ndjson {
        let mut out = Vec::new();
        for row in rows {
            serde_json::to_writer(&mut out, row).map_err(ApiError::unavailable)?;
            out.push(b'\n');
        }
        return Ok(Bytes::from(out));
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer
            .write_record(CSV_COLUMNS)
            .map_err(ApiError::unavailable)?;
    }
    for row in rows {
        writer
            .write_record(CSV_COLUMNS.iter().map(|c| csv_cell(&row[*c])))
            .map_err(ApiError::unavailable)?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|e| ApiError::unavailable(e.to_string()))
}

/// `GET /v1/activity/export` — the search's every match, streamed as CSV
/// (`format=csv`, with a header row) or NDJSON (`format=ndjson`), newest
/// first.
#[utoipa::path(
    get,
    path = "/v1/activity/export",
    tag = "activity",
    params(ActivityFilter),
    responses(
        (status = 200, description = "CSV or NDJSON, streamed", content_type = "text/csv"),
        ReadErrors
    ),
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<ActivityFilter>,
) -> Result<Response, ApiError> {
    let ndjson = match filter.format.as_deref() {
        None | Some("csv") => false,
        Some("ndjson") => true,
        Some(_) => return Err(bad("invalid_format", "format is csv or ndjson")),
    };
    let Audience { visibility, hidden } = audience(&state, &caller).await?;
    caught_up(
        &state,
        &ReadAfter {
            position: filter.position,
        },
        &[activity::TABLE],
    )
    .await?;
    // Refuse a bad filter now, before the 200 goes out; the time window
    // is read as positions once for the whole export.
    conditions(&filter, &visibility)?;
    // Conditions fixed for the whole export: the window, what is hidden.
    let mut fixed = window_conditions(state.projections.target().as_ref(), &filter).await?;
    fixed.extend(hidden);
    struct Cursor {
        state: AppState,
        filter: ActivityFilter,
        visibility: Visibility,
        fixed: Vec<Condition<'static>>,
        first: bool,
        done: bool,
    }
    let start = Cursor {
        state,
        filter: ActivityFilter {
            limit: Some(EXPORT_PAGE),
            position: None,
            ..filter
        },
        visibility,
        fixed,
        first: true,
        done: false,
    };
    let stream = futures_util::stream::unfold(start, move |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let result = async {
            let mut conditions = conditions(&cursor.filter, &cursor.visibility)?;
            conditions.extend(cursor.fixed.iter().cloned());
            let rows = cursor
                .state
                .projections
                .target()
                .query(TABLE, &conditions, ORDER_BY, EXPORT_PAGE)
                .await?;
            let rows: Vec<Value> = rows.into_iter().map(entry).collect();
            let bytes = render(&rows, ndjson, cursor.first)?;
            Ok::<_, ApiError>((bytes, rows))
        }
        .await;
        match result {
            Ok((bytes, rows)) => {
                cursor.first = false;
                match rows.last().and_then(|r| r["position"].as_u64()) {
                    Some(last) if rows.len() == EXPORT_PAGE => {
                        cursor.filter.cursor = Some(encode_cursor(&cursor.filter, last));
                    }
                    _ => cursor.done = true,
                }
                Some((Ok::<_, std::io::Error>(bytes), cursor))
            }
            Err(e) => {
                cursor.done = true;
                Some((
                    Err(std::io::Error::other(format!("{}: {}", e.code, e.message))),
                    cursor,
                ))
            }
        }
    });
    let content_type = if ndjson {
        "application/x-ndjson"
    } else {
        "text/csv; charset=utf-8"
    };
    let file = if ndjson {
        "activity.ndjson"
    } else {
        "activity.csv"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
