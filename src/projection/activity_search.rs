//! The activity log's search, compiled for the read model: a filter (who,
//! what, when, which accounts) becomes conditions on `proj_activity`, newest
//! first, paged by an opaque keyset cursor.
//!
//! Why here and not at the HTTP edge: the same compilation serves
//! `GET /v1/activity`, its export and the audit benchmark that times these
//! queries, and it is about the read model's indexes (which scan answers
//! which filter), not about requests. The caller decides what the actor
//! may see ([`Visibility`]); this module only keeps the search inside it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::ids::AccountId;
use crate::domain::visibility::Visibility;
use crate::projection::query::Condition;
use crate::projection::{ProjectionError, ProjectionStore, SqlValue};

pub use crate::projection::activity::TABLE;

/// Why a search cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A filter that makes no sense (`code` is the API's).
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: &'static str,
    },
    /// An account the caller may not audit: answered like one that does
    /// not exist.
    #[error("no such account")]
    AccountHidden,
    #[error(transparent)]
    ReadModel(#[from] ProjectionError),
}

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

/// What a cursor is bound to: every filter that decides which entries a
/// search holds (not the page size, the cursor itself, the position to
/// wait for or the export format), hashed.
fn query_of(filter: &ActivityFilter) -> String {
    let query = ActivityFilter {
        limit: None,
        cursor: None,
        position: None,
        format: None,
        ..filter.clone()
    };
    let digest = Sha256::digest(format!("{query:?}").as_bytes());
    hex::encode(&digest[..8])
}

/// The cursor of the page after the entry at `position`, for this search
/// only.
pub fn encode_cursor(filter: &ActivityFilter, position: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("activity:{}:{position}", query_of(filter)))
}

fn decode_cursor(filter: &ActivityFilter, cursor: &str) -> Result<u64, SearchError> {
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let (query, position) = text
        .as_deref()
        .and_then(|t| t.strip_prefix("activity:"))
        .and_then(|t| t.split_once(':'))
        .and_then(|(query, position)| Some((query, position.parse::<u64>().ok()?)))
        .ok_or(SearchError::Invalid {
            code: "invalid_cursor",
            message: "cursor is not one this service gave out",
        })?;
    if query != query_of(filter) {
        return Err(SearchError::Invalid {
            code: "invalid_cursor",
            message: "this cursor belongs to another search: pass it only with the filters \
                      that returned it",
        });
    }
    Ok(position)
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
) -> Result<Vec<Condition<'static>>, SearchError> {
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
) -> Result<Vec<Condition<'static>>, SearchError> {
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
        (Some(_), _) => return Err(SearchError::AccountHidden),
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
            return Err(SearchError::Invalid {
                code: "invalid_query",
                message: "at most 10 words of 100 characters",
            });
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
            return Err(SearchError::Invalid {
                code: "invalid_target",
                message: "target_type and target_id go together",
            })
        }
    }
    if let Some(outcome) = &filter.outcome {
        if !matches!(outcome.as_str(), "succeeded" | "challenged") {
            return Err(SearchError::Invalid {
                code: "invalid_outcome",
                message: "outcome is succeeded or challenged",
            });
        }
        out.push(Condition::Eq("outcome", SqlValue::text(outcome.clone())));
    }
    if let Some(cursor) = &filter.cursor {
        let before = decode_cursor(filter, cursor)?;
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
pub async fn window_conditions(
    target: &dyn ProjectionStore,
    filter: &ActivityFilter,
) -> Result<Vec<Condition<'static>>, SearchError> {
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
        Ok::<_, SearchError>(rows.first().and_then(|r| r["position"].as_i64()))
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
pub const ORDER_BY: &str = "position DESC";

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
