//! Keyset pages for every list: `?limit=` (1 to [`MAX_PAGE`], default
//! [`DEFAULT_PAGE`]) and `?cursor=` in, `next_cursor` out — absent only on
//! the last page.
//!
//! Why keysets and not offsets: a portal back end pages through thousands
//! of users while others are invited and deleted. An offset shifts under
//! such writes (a row is skipped or shown twice); a keyset names the last
//! row shown by its sort key, and every list sorts by columns that never
//! change after a row is created (a creation time, then the id), so the
//! next page starts exactly after it whatever was written in between.
//!
//! Why the cursor carries a fingerprint of its query: a cursor is only
//! meaningful for the list, account and filters that produced it. One
//! passed to another query would silently start that list at an unrelated
//! row, so it is refused (`400 invalid_cursor`) instead.
//!
//! Cursors are opaque to clients (base64url of a small JSON document); the
//! service parses them as untrusted input like any other.

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::http::error::ApiError;
use crate::projection::query::Condition;
use crate::projection::SqlValue;

/// Rows a page holds unless `?limit=` says otherwise.
pub const DEFAULT_PAGE: usize = 100;
/// Most rows one page may hold.
pub const MAX_PAGE: usize = 500;

/// The type of a sort column, to read a cursor's value back as a bound
/// parameter of that type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyKind {
    Text,
    Int,
    Time,
}

/// One sort column of a list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub column: &'static str,
    pub kind: KeyKind,
    pub descending: bool,
}

impl Key {
    pub const fn text(column: &'static str) -> Self {
        Self {
            column,
            kind: KeyKind::Text,
            descending: false,
        }
    }

    pub const fn time(column: &'static str) -> Self {
        Self {
            column,
            kind: KeyKind::Time,
            descending: false,
        }
    }

    pub const fn int(column: &'static str) -> Self {
        Self {
            column,
            kind: KeyKind::Int,
            descending: false,
        }
    }

    pub const fn desc(mut self) -> Self {
        self.descending = true;
        self
    }
}

/// How a list sorts: columns that do not change once a row exists, the
/// last one unique (the row's id), so that "after this row" is exact.
#[derive(Debug)]
pub(crate) struct Keyset {
    /// The list's name, part of its cursors' fingerprint.
    pub list: &'static str,
    pub keys: &'static [Key],
}

impl Keyset {
    /// The `ORDER BY` of the list.
    pub fn order_by(&self) -> String {
        self.keys
            .iter()
            .map(|k| match k.descending {
                true => format!("{} DESC", k.column),
                false => k.column.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A row's sort key, as a cursor carries it.
    fn key_of(&self, row: &Value) -> Vec<Value> {
        self.keys.iter().map(|k| row[k.column].clone()).collect()
    }

    /// The condition "after the row whose key is `values`".
    fn after(&self, values: &[Value]) -> Result<Condition<'static>, ApiError> {
        if values.len() != self.keys.len() {
            return Err(not_ours());
        }
        let bound = self
            .keys
            .iter()
            .zip(values)
            .map(|(key, value)| Ok((key.column, key.descending, bind(key.kind, value)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(Condition::After(bound))
    }
}

fn bind(kind: KeyKind, value: &Value) -> Result<SqlValue, ApiError> {
    match (kind, value) {
        (KeyKind::Text, Value::String(s)) => Some(SqlValue::text(s.clone())),
        (KeyKind::Int, Value::Number(n)) => n.as_i64().map(|n| SqlValue::Int(Some(n))),
        (KeyKind::Time, Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| SqlValue::Time(Some(t.with_timezone(&Utc)))),
        _ => None,
    }
    .ok_or_else(not_ours)
}

fn not_ours() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        "cursor is not one this service gave out",
    )
}

/// What a cursor holds: its query's fingerprint and the last row's key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorBody {
    q: String,
    k: Vec<Value>,
}

/// A fingerprint of a query: the list, then every part that decides which
/// rows it holds (the account, the filters), each as text.
pub(crate) fn fingerprint(list: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(list.as_bytes());
    for part in parts {
        hash.update([0u8]);
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..8])
}

/// The page a request asks for, parsed and checked: its size, and where it
/// starts (after the key a cursor named), for one query.
#[derive(Debug)]
pub(crate) struct PageRequest {
    pub limit: usize,
    query: String,
    after: Option<Vec<Value>>,
}

impl PageRequest {
    /// Parses `?limit=` and `?cursor=` for the query `fingerprint` names:
    /// a cursor another query gave out is refused.
    pub fn parse(
        limit: Option<usize>,
        cursor: Option<&str>,
        fingerprint: String,
    ) -> Result<Self, ApiError> {
        let limit = match limit {
            None => DEFAULT_PAGE,
            Some(n) if (1..=MAX_PAGE).contains(&n) => n,
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_limit",
                    format!("limit is 1 to {MAX_PAGE}"),
                ))
            }
        };
        let after = match cursor {
            None => None,
            Some(text) => {
                let body: CursorBody = URL_SAFE_NO_PAD
                    .decode(text)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .ok_or_else(not_ours)?;
                if body.q != fingerprint {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_cursor",
                        "this cursor belongs to another list, account or filter: \
                         pass it only with the query that returned it",
                    ));
                }
                Some(body.k)
            }
        };
        Ok(Self {
            limit,
            query: fingerprint,
            after,
        })
    }

    /// The condition that starts the page after the cursor's row (none on
    /// the first page).
    pub fn after(&self, keyset: &Keyset) -> Result<Option<Condition<'static>>, ApiError> {
        self.after.as_deref().map(|k| keyset.after(k)).transpose()
    }

    /// Rows to fetch: one more than the page, to know whether another
    /// page follows.
    pub fn fetch_limit(&self) -> usize {
        self.limit + 1
    }

    /// The page out of the (at most `limit + 1`) rows fetched, and the
    /// cursor of the next page when there is one.
    pub fn finish(&self, keyset: &Keyset, mut rows: Vec<Value>) -> (Vec<Value>, Option<String>) {
        if rows.len() <= self.limit {
            return (rows, None);
        }
        rows.truncate(self.limit);
        let next = rows.last().map(|last| self.cursor(keyset.key_of(last)));
        (rows, next)
    }

    /// For a list held in order in memory and keyed by id (the `?as_of=`
    /// lists, read from the log): where the page starts in `ids`, right
    /// after the cursor's id.
    pub fn start_in(&self, ids: &[String]) -> Result<usize, ApiError> {
        match self.after.as_deref() {
            None => Ok(0),
            Some([Value::String(last)]) => ids
                .iter()
                .position(|id| id == last)
                .map(|i| i + 1)
                .ok_or_else(not_ours),
            Some(_) => Err(not_ours()),
        }
    }

    /// The page out of (at most `limit + 1`) `(id, row)` pairs taken in
    /// order from [`PageRequest::start_in`] on, and the next cursor.
    pub fn finish_keyed(&self, mut rows: Vec<(String, Value)>) -> (Vec<Value>, Option<String>) {
        let more = rows.len() > self.limit;
        rows.truncate(self.limit);
        let next = match (more, rows.last()) {
            (true, Some((id, _))) => Some(self.cursor(vec![Value::String(id.clone())])),
            _ => None,
        };
        (rows.into_iter().map(|(_, row)| row).collect(), next)
    }

    fn cursor(&self, key: Vec<Value>) -> String {
        let body = CursorBody {
            q: self.query.clone(),
            k: key,
        };
        // A struct of a string and JSON values always serializes.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: Keyset = Keyset {
        list: "things",
        keys: &[Key::time("created_at").desc(), Key::text("id")],
    };

    fn rows(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| serde_json::json!({"created_at": "2026-01-01T00:00:00Z", "id": format!("{i:03}")}))
            .collect()
    }

    #[test]
    fn the_last_page_has_no_cursor_and_a_full_one_has() {
        let request = PageRequest::parse(Some(2), None, "q".into()).expect("page");
        let (page, next) = request.finish(&LIST, rows(2));
        assert_eq!(page.len(), 2);
        assert!(next.is_none());
        let (page, next) = request.finish(&LIST, rows(3));
        assert_eq!(page.len(), 2);
        let next = next.expect("a next page");
        let again = PageRequest::parse(Some(2), Some(&next), "q".into()).expect("page");
        let after = again.after(&LIST).expect("ours").expect("a condition");
        let Condition::After(keys) = after else {
            panic!("not a keyset")
        };
        assert_eq!(keys[0].0, "created_at");
        assert!(keys[0].1, "descending");
        assert_eq!(keys[1].2, SqlValue::text("001"));
    }

    #[test]
    fn cursors_of_other_queries_and_garbage_are_refused() {
        let request = PageRequest::parse(Some(1), None, "one".into()).expect("page");
        let (_, next) = request.finish(&LIST, rows(2));
        let next = next.expect("a next page");
        let err = PageRequest::parse(Some(1), Some(&next), "other".into()).expect_err("foreign");
        assert_eq!(err.code, "invalid_cursor");
        for garbage in ["", "!!", "e30", "bm90IGpzb24"] {
            let parsed = PageRequest::parse(None, Some(garbage), "one".into());
            let refused = match parsed {
                Err(e) => e.code == "invalid_cursor",
                Ok(p) => p.after(&LIST).is_err(),
            };
            assert!(refused, "{garbage:?} accepted");
        }
    }

    #[test]
    fn a_page_size_is_one_to_the_cap() {
        for bad in [0, MAX_PAGE + 1] {
            let err = PageRequest::parse(Some(bad), None, "q".into()).expect_err("refused");
            assert_eq!(err.code, "invalid_limit");
        }
        let ok = PageRequest::parse(Some(MAX_PAGE), None, "q".into()).expect("cap");
        assert_eq!(ok.fetch_limit(), MAX_PAGE + 1);
    }

    #[test]
    fn an_in_memory_list_pages_after_the_cursor_id() {
        let ids: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let keyed = |from: usize, n: usize| -> Vec<(String, Value)> {
            ids[from..(from + n).min(ids.len())]
                .iter()
                .map(|id| (id.clone(), Value::String(id.clone())))
                .collect()
        };
        let request = PageRequest::parse(Some(2), None, "q".into()).expect("page");
        let start = request.start_in(&ids).expect("start");
        let (page, next) = request.finish_keyed(keyed(start, request.fetch_limit()));
        assert_eq!(page, vec!["0", "1"]);
        let request = PageRequest::parse(Some(2), next.as_deref(), "q".into()).expect("page");
        let start = request.start_in(&ids).expect("start");
        assert_eq!(start, 2);
        let request = PageRequest::parse(Some(3), next.as_deref(), "q".into());
        let request = request.expect("the size may change between pages");
        let (page, next) = request.finish_keyed(keyed(start, request.fetch_limit()));
        assert_eq!(page, vec!["2", "3", "4"]);
        assert!(next.is_none());
    }
}
