//! The activity log for auditors and portal UIs: search with combinable
//! filters, newest first, keyset pages behind an opaque cursor; and the same
//! search exported as CSV or NDJSON, streamed page by page (nothing is
//! buffered whole).
//!
//! Who sees what is decided once per request (`Ledger::visibility`): a
//! platform auditor everything, a partner's the partner and the customers
//! they work for, an organization's their organization.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::audit::Visibility;
use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiPath, ApiQuery};
use crate::http::schemas::ReadErrors;
use crate::http::users::{caught_up, ReadAfter};
use crate::http::AppState;
use crate::projection::query::Condition;
use crate::projection::{activity, ProjectionStore, SqlValue};

/// Entries per page by default, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;
/// Rows per page while exporting.
const EXPORT_PAGE: usize = 1000;
const TABLE: &str = "proj_activity";

/// Filters, all optional and combined with AND.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityFilter {
    /// The actor's e-mail at the time, exactly (case-insensitive).
    pub actor_email: Option<String>,
    /// The actor's e-mail starts with this (case-insensitive).
    pub actor_email_prefix: Option<String>,
    /// Action types, comma-separated (e.g. `Invite User,Delete User`).
    pub action_types: Option<String>,
    /// Words that must all appear in the description (case-insensitive).
    pub q: Option<String>,
    /// One account (it must be one the caller may audit).
    pub account_id: Option<AccountId>,
    /// A target's type (`user`, `server`, `license`, …); with `target_id`.
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// From this time on (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// `succeeded` or `challenged`.
    pub outcome: Option<String>,
    /// Entries per page (default 100, at most 500).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Wait until the read model has applied this position.
    pub position: Option<u64>,
    /// Export only: `csv` (default) or `ndjson`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivitySearchPage {
    /// Entries, newest first: `position`, `recorded_at`, `event_type`,
    /// `action_type`, `description`, `actor_user_id`, `actor_email` (at that
    /// time), `account_id`, `on_behalf_of`, `targets`, `ip`, `user_agent`,
    /// `outcome`, `correlation_id`.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message.into())
}

fn encode_cursor(position: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("activity:{position}"))
}

fn decode_cursor(cursor: &str) -> Result<u64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("activity:")?.parse().ok())
        .ok_or_else(|| bad("invalid_cursor", "cursor is not one this service gave out"))
}

/// The filter as conditions on `proj_activity`, within what `visibility`
/// allows, with its time window read as positions (see
/// [`window_conditions`]): exactly what `GET /v1/activity` and the export
/// ask the read model (public for the audit benchmark, which times these
/// queries).
pub async fn search_conditions(
    target: &dyn ProjectionStore,
    filter: &ActivityFilter,
    visibility: &Visibility,
) -> Result<Vec<Condition<'static>>, ApiError> {
    let mut out = conditions(filter, visibility)?;
    out.extend(window_conditions(target, filter).await?);
    Ok(out)
}

/// Every filter but the time window, as conditions (pure).
///
/// Several action types are a [`Condition::AnyOf`] (one ordered scan of
/// their index each, merged). So are the visible accounts, unless a filter
/// needs its own index: then each account (or account and type) is one
/// ordered scan of `(account_id, position DESC)` (or `(account_id,
/// action_type, position DESC)`) and a page is their merge, reading about
/// its own rows — where PostgreSQL would otherwise AND bitmaps of every
/// match (1.7 s at 10 M events) or walk the whole log's positions past
/// every other tenant's entries (50 rows read per row exported). The
/// accounts stay a plain `IN` with an e-mail, a target or an outcome (that
/// filter's index is the database's better choice than a merge whose every
/// branch must first find a match in its account, often none), and with
/// words but no action type (a rare word is best found in the trigram
/// index).
pub fn conditions(
    filter: &ActivityFilter,
    visibility: &Visibility,
) -> Result<Vec<Condition<'static>>, ApiError> {
    let mut out = Vec::new();
    let mut types: Vec<&str> = filter
        .action_types
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    types.sort_unstable();
    types.dedup();
    let has_types = !types.is_empty();
    let has_words = filter.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let merge_accounts = filter.actor_email.is_none()
        && filter.actor_email_prefix.is_none()
        && filter.target_type.is_none()
        && filter.outcome.is_none()
        && (has_types || !has_words);
    match (filter.account_id, visibility) {
        (Some(account), v) if v.allows(account) => out.push(Condition::Eq(
            "account_id",
            SqlValue::text(account.to_string()),
        )),
        (Some(_), _) => return Err(ApiError::not_found()),
        (None, Visibility::All) => {}
        (None, Visibility::Accounts(accounts)) => {
            let accounts: Vec<SqlValue> = accounts
                .iter()
                .map(|a| SqlValue::text(a.to_string()))
                .collect();
            out.push(if merge_accounts {
                Condition::AnyOf("account_id", accounts)
            } else {
                Condition::In("account_id", accounts)
            });
        }
    }
    if let Some(email) = &filter.actor_email {
        out.push(Condition::EqFolded(
            "actor_email_folded",
            email.trim().to_owned(),
        ));
    }
    if let Some(prefix) = &filter.actor_email_prefix {
        out.push(Condition::PrefixFolded(
            "actor_email_folded",
            prefix.trim().to_owned(),
        ));
    }
    if has_types {
        out.push(Condition::AnyOf(
            "action_type",
            types.into_iter().map(SqlValue::text).collect(),
        ));
    }
    if let Some(q) = &filter.q {
        let words: Vec<&str> = q.split_whitespace().collect();
        if words.len() > 10 || words.iter().any(|w| w.chars().count() > 100) {
            return Err(bad("invalid_query", "at most 10 words of 100 characters"));
        }
        for word in words {
            out.push(Condition::ContainsFolded(
                "description_folded",
                word.to_owned(),
            ));
        }
    }
    match (&filter.target_type, &filter.target_id) {
        (Some(kind), Some(id)) => out.push(Condition::HasTarget {
            column: "targets",
            kind: kind.clone(),
            id: id.clone(),
        }),
        (None, None) => {}
        _ => {
            return Err(bad(
                "invalid_target",
                "target_type and target_id go together",
            ))
        }
    }
    if let Some(outcome) = &filter.outcome {
        if !matches!(outcome.as_str(), "succeeded" | "challenged") {
            return Err(bad("invalid_outcome", "outcome is succeeded or challenged"));
        }
        out.push(Condition::Eq("outcome", SqlValue::text(outcome.clone())));
    }
    if let Some(cursor) = &filter.cursor {
        let before = decode_cursor(cursor)?;
        out.push(Condition::Below(
            "position",
            SqlValue::Int(Some(before as i64)),
        ));
    }
    Ok(out)
}

/// The time window as a range of positions. `recorded_at` never decreases
/// along the log (the writer and `import` guarantee it, `verify` checks
/// it), so "from `from` to before `to`" is exactly "from the first entry
/// recorded at or after `from` to before the first recorded at or after
/// `to`" — two one-row lookups in the `(recorded_at DESC, position DESC)`
/// index. Then every search is ordered by position alone and a window
/// combines with any other filter's index (a window far back no longer
/// scans every newer entry of each account).
async fn window_conditions(
    target: &dyn ProjectionStore,
    filter: &ActivityFilter,
) -> Result<Vec<Condition<'static>>, ApiError> {
    let first_at_or_after = |time: DateTime<Utc>| async move {
        let rows = target
            .query(
                TABLE,
                &[Condition::AtLeast(
                    "recorded_at",
                    SqlValue::Time(Some(time)),
                )],
                "recorded_at, position",
                1,
            )
            .await?;
        Ok::<_, ApiError>(rows.first().and_then(|r| r["position"].as_i64()))
    };
    let mut out = Vec::new();
    if let Some(from) = filter.from {
        match first_at_or_after(from).await? {
            Some(position) => out.push(Condition::AtLeast(
                "position",
                SqlValue::Int(Some(position)),
            )),
            // Nothing was recorded since `from`.
            None => out.push(Condition::In("position", vec![])),
        }
    }
    if let Some(to) = filter.to {
        if let Some(position) = first_at_or_after(to).await? {
            out.push(Condition::Below("position", SqlValue::Int(Some(position))));
        }
    }
    Ok(out)
}

/// Newest first: every search, windows included, is ordered by position.
const ORDER_BY: &str = "position DESC";

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

async fn visibility(state: &AppState, caller: &Caller) -> Result<Visibility, ApiError> {
    let customers: Vec<AccountId> = state
        .projections
        .target()
        .fetch(
            "proj_accounts",
            &[(
                "parent_id",
                SqlValue::text(caller.principal.account_id.to_string()),
            )],
            "account_id",
            1_000_000,
        )
        .await?
        .iter()
        .filter_map(|r| r["account_id"].as_str()?.parse().ok())
        .map(AccountId)
        .collect();
    Ok(state
        .auth
        .ledger()
        .visibility(&caller.context, Action::ViewActivityLog, &customers)
        .await?)
}

async fn page(
    state: &AppState,
    filter: &ActivityFilter,
    visibility: &Visibility,
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
    let rows = target
        .query(
            TABLE,
            &search_conditions(target.as_ref(), filter, visibility).await?,
            ORDER_BY,
            limit,
        )
        .await?;
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().and_then(|r| r["position"].as_u64()))
        .flatten()
        .map(encode_cursor);
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
    security(("bearer" = [])),
)]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<ActivityFilter>,
) -> Result<Json<ActivitySearchPage>, ApiError> {
    let visibility = visibility(&state, &caller).await?;
    Ok(Json(page(&state, &filter, &visibility).await?))
}

/// `GET /v1/accounts/{id}/activity` — one account's log, with the same
/// filters.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/activity",
    tag = "activity",
    params(("account_id" = AccountId, Path, description = "account id"), ActivityFilter),
    responses((status = 200, body = ActivitySearchPage), ReadErrors),
    security(("bearer" = [])),
)]
pub async fn list_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(mut filter): ApiQuery<ActivityFilter>,
) -> Result<Json<ActivitySearchPage>, ApiError> {
    state
        .auth
        .ledger()
        .authorize_in(&caller.context, Action::ViewActivityLog, account_id)
        .await?;
    filter.account_id = Some(account_id);
    Ok(Json(
        page(&state, &filter, &Visibility::Accounts(vec![account_id])).await?,
    ))
}

const CSV_COLUMNS: [&str; 14] = [
    "position",
    "recorded_at",
    "event_type",
    "action_type",
    "description",
    "actor_user_id",
    "actor_email",
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
    security(("bearer" = [])),
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
    let visibility = visibility(&state, &caller).await?;
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
    let window = window_conditions(state.projections.target().as_ref(), &filter).await?;
    struct Cursor {
        state: AppState,
        filter: ActivityFilter,
        visibility: Visibility,
        window: Vec<Condition<'static>>,
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
        window,
        first: true,
        done: false,
    };
    let stream = futures_util::stream::unfold(start, move |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let result = async {
            let mut conditions = conditions(&cursor.filter, &cursor.visibility)?;
            conditions.extend(cursor.window.iter().cloned());
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
                        cursor.filter.cursor = Some(encode_cursor(last));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::query::select;
    use crate::projection::sqlite::SqliteProjections;
    use crate::projection::Dialect;

    /// SQLite's plan for the search `filter` builds (the real SQL, on the
    /// migrated projections file).
    async fn sqlite_plan(
        projections: &SqliteProjections,
        filter: ActivityFilter,
        visibility: Visibility,
    ) -> String {
        let conditions = conditions(&filter, &visibility).unwrap();
        plan_of(projections, &conditions, ORDER_BY, 100).await
    }

    async fn plan_of(
        projections: &SqliteProjections,
        conditions: &[Condition<'_>],
        order_by: &str,
        limit: usize,
    ) -> String {
        let (sql, params) = select(TABLE, "*", conditions, order_by, limit, Dialect::Sqlite);
        projections
            .run(move |conn| {
                let values: Vec<rusqlite::types::Value> = params
                    .iter()
                    .map(|p| match p {
                        SqlValue::Text(Some(t)) => rusqlite::types::Value::Text(t.clone()),
                        SqlValue::Int(Some(i)) => rusqlite::types::Value::Integer(*i),
                        SqlValue::Time(Some(t)) => rusqlite::types::Value::Text(
                            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        ),
                        SqlValue::Json(Some(j)) => rusqlite::types::Value::Text(j.to_string()),
                        _ => rusqlite::types::Value::Null,
                    })
                    .collect();
                let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = statement
                    .query_map(rusqlite::params_from_iter(values), |row| {
                        row.get::<_, String>(3)
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows.join("\n"))
            })
            .await
            .unwrap()
    }

    /// The indexes of `projections/sqlite/V11__activity_search.sql` and
    /// `V14__activity_folded_search.sql` serve the filters they are for.
    #[tokio::test]
    async fn sqlite_serves_each_indexed_filter_from_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let projections = SqliteProjections::open(dir.path()).await.unwrap();
        let all = || Visibility::All;
        let plan = sqlite_plan(
            &projections,
            ActivityFilter {
                actor_email: Some("Ann@Example.com".into()),
                ..Default::default()
            },
            all(),
        )
        .await;
        assert!(
            plan.contains("USING INDEX proj_activity_actor_email_folded (actor_email_folded=?)"),
            "{plan}"
        );
        assert!(
            !plan.contains("TEMP B-TREE"),
            "newest first from the index: {plan}"
        );
        let plan = sqlite_plan(
            &projections,
            ActivityFilter {
                actor_email_prefix: Some("ÉCRAN".into()),
                ..Default::default()
            },
            all(),
        )
        .await;
        assert!(
            plan.contains(
                "USING INDEX proj_activity_actor_email_folded (actor_email_folded>? AND actor_email_folded<?)"
            ),
            "{plan}"
        );
        let plan = sqlite_plan(
            &projections,
            ActivityFilter {
                action_types: Some("Invite User".into()),
                ..Default::default()
            },
            all(),
        )
        .await;
        assert!(
            plan.contains("USING INDEX proj_activity_action_type (action_type=?)"),
            "{plan}"
        );
        // A time window is looked up as positions: the first entry at or
        // after a moment, in order off the recorded_at index.
        let plan = plan_of(
            &projections,
            &[Condition::AtLeast(
                "recorded_at",
                SqlValue::Time(Some(Utc::now())),
            )],
            "recorded_at, position",
            1,
        )
        .await;
        assert!(
            plan.contains("USING INDEX proj_activity_recorded_at_desc (recorded_at>?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        // ... and then is a range of the position index.
        let plan = plan_of(
            &projections,
            &[
                Condition::AtLeast("position", SqlValue::Int(Some(10))),
                Condition::Below("position", SqlValue::Int(Some(20))),
            ],
            ORDER_BY,
            100,
        )
        .await;
        assert!(plan.contains("(position>? AND position<?)"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        // Several accounts and action types: one ordered scan per pair,
        // merged; no branch sorts.
        let plan = sqlite_plan(
            &projections,
            ActivityFilter {
                action_types: Some("Invite User,Delete User".into()),
                q: Some("wall".into()),
                ..Default::default()
            },
            Visibility::Accounts(vec![
                AccountId(uuid::Uuid::now_v7()),
                AccountId(uuid::Uuid::now_v7()),
            ]),
        )
        .await;
        assert_eq!(
            plan.matches(
                "USING INDEX proj_activity_account_action_type (account_id=? AND action_type=?)"
            )
            .count(),
            4,
            "{plan}"
        );
        assert!(plan.contains("MERGE (UNION ALL)"), "{plan}");
        let account = AccountId(uuid::Uuid::now_v7());
        let plan = sqlite_plan(
            &projections,
            ActivityFilter::default(),
            Visibility::Accounts(vec![account]),
        )
        .await;
        assert!(
            plan.contains("USING INDEX proj_activity_account (account_id=?)"),
            "{plan}"
        );
        let plan = sqlite_plan(
            &projections,
            ActivityFilter {
                outcome: Some("challenged".into()),
                ..Default::default()
            },
            all(),
        )
        .await;
        assert!(
            plan.contains("USING INDEX proj_activity_outcome (outcome=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        // No filter: newest first straight off the position index.
        let plan = sqlite_plan(&projections, ActivityFilter::default(), all()).await;
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        assert!(
            !plan.starts_with("SCAN t\n") && plan.contains("INDEX"),
            "{plan}"
        );
    }
}
