//! Reading read models: a small condition vocabulary turned into the same
//! SQL for PostgreSQL and SQLite (the read side of `RowChange`).
//!
//! Column and table names come from our code, never from a client; values
//! are always bound parameters. Text matches are case-insensitive and
//! escape `%`, `_` and `\` in what the client typed.

use crate::projection::{Dialect, SqlValue};

/// One condition on a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition<'a> {
    /// `column = value`
    Eq(&'a str, SqlValue),
    /// `column IN (values…)` (no values: no row matches)
    In(&'a str, Vec<SqlValue>),
    /// `lower(column) = lower(text)`
    EqIgnoreCase(&'a str, String),
    /// `lower(column)` starts with `lower(text)`
    PrefixIgnoreCase(&'a str, String),
    /// `lower(column)` contains `lower(text)`
    ContainsIgnoreCase(&'a str, String),
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

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
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
            Condition::EqIgnoreCase(column, text) => format!(
                "lower({column}) = {}",
                mark(SqlValue::text(text.to_lowercase()), &mut params)
            ),
            Condition::PrefixIgnoreCase(column, text) => format!(
                "lower({column}) LIKE {} ESCAPE '\\'",
                mark(
                    SqlValue::text(format!("{}%", escape_like(text))),
                    &mut params
                )
            ),
            Condition::ContainsIgnoreCase(column, text) => format!(
                "lower({column}) LIKE {} ESCAPE '\\'",
                mark(
                    SqlValue::text(format!("%{}%", escape_like(text))),
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
            Condition::PrefixIgnoreCase("actor_email", "Ann_%".into()),
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
            "SELECT * FROM t1 t WHERE account_id IN ($1, $2) AND lower(actor_email) LIKE $3 ESCAPE '\\' \
             AND targets @> $4::jsonb AND position < $5 ORDER BY position DESC LIMIT 5"
        );
        assert_eq!(params[2], SqlValue::text("ann\\_\\%%"));
        let (sql, params) = select("t1", "*", &conditions, "position DESC", 5, Dialect::Sqlite);
        assert!(sql.contains("json_each(t.targets)"), "{sql}");
        assert!(sql.contains("position < ?6"), "{sql}");
        assert_eq!(params.len(), 6);
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
}
