//! Reading read models: a small condition vocabulary turned into the same
//! SQL for PostgreSQL and SQLite (the read side of `RowChange`).
//!
//! Column and table names come from our code, never from a client; values
//! are always bound parameters. Text matches are case-insensitive and
//! escape `%`, `_` and `\` in what the client typed.
//!
//! Case-insensitive matching never uses the database's `lower()`: SQLite's
//! folds only ASCII (`Ü` stays `Ü`) and PostgreSQL's depends on the
//! database's locale, while Rust lowercases all of Unicode. So a projector
//! stores the text [`fold`]ed by Rust in a `*_folded` column, the client's
//! text is folded the same way, and the SQL compares the two as they are —
//! the same answer on both backends, and plain indexes on those columns.

use crate::projection::{Dialect, SqlValue};

/// One condition on a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition<'a> {
    /// `column = value`
    Eq(&'a str, SqlValue),
    /// `column IN (values…)` (no values: no row matches)
    In(&'a str, Vec<SqlValue>),
    /// `column = fold(text)`; the column holds [`fold`]ed text.
    EqFolded(&'a str, String),
    /// The (folded) column starts with `fold(text)`.
    PrefixFolded(&'a str, String),
    /// The (folded) column contains `fold(text)`.
    ContainsFolded(&'a str, String),
    /// `column >= value`
    AtLeast(&'a str, SqlValue),
    /// `column < value`
    Below(&'a str, SqlValue),
    /// A JSON array column of `{type, id}` objects holds this one.
    HasTarget {
        column: &'a str,
        kind: String,
        id: String,
    },
}

/// The one case folding of the read side (Rust's Unicode lowercase), for
/// `*_folded` columns and for what clients search for.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// The smallest string greater than every string starting with `prefix`
/// (in code point order, which is UTF-8 byte order): the last character
/// that has a successor is incremented and what follows it dropped. `None`
/// when there is none (only U+10FFFF characters, or empty).
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `text` (already folded) with LIKE's wildcards escaped.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `SELECT columns FROM table t WHERE … ORDER BY … LIMIT …` and its
/// parameters, in order.
pub(crate) fn select(
    table: &str,
    columns: &str,
    conditions: &[Condition<'_>],
    order_by: &str,
    limit: usize,
    dialect: Dialect,
) -> (String, Vec<SqlValue>) {
    let mut params: Vec<SqlValue> = Vec::new();
    let mark = |value: SqlValue, params: &mut Vec<SqlValue>| {
        params.push(value);
        dialect.placeholder(params.len())
    };
    let mut clauses = Vec::new();
    for condition in conditions {
        let clause = match condition {
            Condition::Eq(column, value) => {
                format!("{column} = {}", mark(value.clone(), &mut params))
            }
            Condition::In(_, values) if values.is_empty() => "1 = 0".to_owned(),
            Condition::In(column, values) => {
                let marks: Vec<String> = values
                    .iter()
                    .map(|v| mark(v.clone(), &mut params))
                    .collect();
                format!("{column} IN ({})", marks.join(", "))
            }
            Condition::EqFolded(column, text) => format!(
                "{column} = {}",
                mark(SqlValue::text(fold(text)), &mut params)
            ),
            Condition::PrefixFolded(column, text) => {
                let folded = fold(text);
                match (dialect, prefix_successor(&folded)) {
                    // SQLite serves LIKE from an index only on a NOCASE
                    // column (while LIKE is case-insensitive), so ask for
                    // the range every string with the prefix falls in: an
                    // index on the BINARY-collated column serves it.
                    (Dialect::Sqlite, Some(next)) => {
                        let low = mark(SqlValue::text(folded), &mut params);
                        let high = mark(SqlValue::text(next), &mut params);
                        format!("{column} >= {low} AND {column} < {high}")
                    }
                    // PostgreSQL: a text_pattern_ops index serves LIKE 'p%'.
                    _ => format!(
                        "{column} LIKE {} ESCAPE '\\'",
                        mark(
                            SqlValue::text(format!("{}%", escape_like(&folded))),
                            &mut params
                        )
                    ),
                }
            }
            Condition::ContainsFolded(column, text) => format!(
                "{column} LIKE {} ESCAPE '\\'",
                mark(
                    SqlValue::text(format!("%{}%", escape_like(&fold(text)))),
                    &mut params
                )
            ),
            Condition::AtLeast(column, value) => {
                format!("{column} >= {}", mark(value.clone(), &mut params))
            }
            Condition::Below(column, value) => {
                format!("{column} < {}", mark(value.clone(), &mut params))
            }
            Condition::HasTarget { column, kind, id } => match dialect {
                Dialect::Postgres => format!(
                    "{column} @> {}::jsonb",
                    mark(
                        SqlValue::Json(Some(serde_json::json!([{ "type": kind, "id": id }]))),
                        &mut params
                    )
                ),
                Dialect::Sqlite => {
                    let kind = mark(SqlValue::text(kind.clone()), &mut params);
                    let id = mark(SqlValue::text(id.clone()), &mut params);
                    format!(
                        "EXISTS (SELECT 1 FROM json_each(t.{column}) j \
                         WHERE json_extract(j.value, '$.type') = {kind} \
                         AND json_extract(j.value, '$.id') = {id})"
                    )
                }
            },
        };
        clauses.push(clause);
    }
    let where_clause = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (
        format!("SELECT {columns} FROM {table} t{where_clause} ORDER BY {order_by} LIMIT {limit}"),
        params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_become_bound_sql_on_both_dialects() {
        let conditions = [
            Condition::In("account_id", vec![SqlValue::text("a"), SqlValue::text("b")]),
            Condition::PrefixFolded("actor_email_folded", "Ann_%".into()),
            Condition::HasTarget {
                column: "targets",
                kind: "user".into(),
                id: "u1".into(),
            },
            Condition::Below("position", SqlValue::Int(Some(10))),
        ];
        let (sql, params) = select(
            "t1",
            "*",
            &conditions,
            "position DESC",
            5,
            Dialect::Postgres,
        );
        assert_eq!(
            sql,
            "SELECT * FROM t1 t WHERE account_id IN ($1, $2) AND actor_email_folded LIKE $3 ESCAPE '\\' \
             AND targets @> $4::jsonb AND position < $5 ORDER BY position DESC LIMIT 5"
        );
        assert_eq!(params[2], SqlValue::text("ann\\_\\%%"));
        let (sql, params) = select("t1", "*", &conditions, "position DESC", 5, Dialect::Sqlite);
        assert!(sql.contains("json_each(t.targets)"), "{sql}");
        assert!(
            sql.contains("actor_email_folded >= ?3 AND actor_email_folded < ?4"),
            "{sql}"
        );
        assert_eq!(params[2], SqlValue::text("ann_%"));
        assert_eq!(params[3], SqlValue::text("ann_&"));
        assert!(sql.contains("position < ?7"), "{sql}");
        assert_eq!(params.len(), 7);
        let (sql, _) = select(
            "t1",
            "*",
            &[Condition::In("a", vec![])],
            "a",
            1,
            Dialect::Sqlite,
        );
        assert!(sql.contains("WHERE 1 = 0"));
    }

    #[test]
    fn folding_is_rusts_unicode_lowercase_and_prefixes_have_successors() {
        assert_eq!(fold("ÜBERWACHUNG ÉCRAN Σ"), "überwachung écran σ");
        assert_eq!(prefix_successor("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_successor("é").as_deref(), Some("ê"));
        // U+D7FF is followed by U+E000 (no surrogates in strings).
        assert_eq!(prefix_successor("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_successor("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10ffff}"), None);
        assert_eq!(prefix_successor(""), None);
        let (sql, params) = select(
            "t1",
            "*",
            &[Condition::PrefixFolded("c", "\u{10ffff}".into())],
            "c",
            1,
            Dialect::Sqlite,
        );
        assert!(sql.contains("c LIKE ?1"), "{sql}");
        assert_eq!(params, vec![SqlValue::text("\u{10ffff}%")]);
    }
}
