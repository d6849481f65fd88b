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
//!
//! Why [`Condition::AnyOf`] exists: "any of these accounts, any of these
//! action types, newest first, first 100" is the auditor's everyday query,
//! and neither database answers `account_id IN (…101…) AND action_type IN
//! (…)` in index order — PostgreSQL 15 combines bitmaps of every matching
//! row and sorts them (1.7 s at 10 M events), SQLite scans. So an `AnyOf` is
//! answered as one branch per combination of values, each an ordered index
//! scan with its own `LIMIT`, merged newest first (PostgreSQL's Merge Append,
//! SQLite's compound-select merge): both stop as soon as the page is full.

use crate::projection::{Dialect, SqlValue};

/// One condition on a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition<'a> {
    /// `column = value`
    Eq(&'a str, SqlValue),
    /// `column IN (values…)` (no values: no row matches)
    In(&'a str, Vec<SqlValue>),
    /// Like [`Condition::In`], answered by merging one ordered scan per value
    /// (see the module docs): for a column that leads an index ordered like
    /// the query. `AnyOf`s fan out in order while the combinations stay
    /// within [`MAX_BRANCHES`]; one that would exceed it is a plain `IN`.
    AnyOf(&'a str, Vec<SqlValue>),
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
    /// `column > value`
    Above(&'a str, SqlValue),
    /// `column IS NULL`
    IsNull(&'a str),
    /// None of the conditions hold (the complement of all of them).
    NoneOf(Vec<Condition<'a>>),
    /// The rows after one in a keyset order: each `(column, descending,
    /// value)` is a sort column and the last row's value in it. Spelled
    /// out as `c1 > v1 OR (c1 = v1 AND c2 > v2) …` (`<` for descending
    /// columns), which both backends answer from an index on the columns
    /// and which, unlike a row comparison, allows mixed directions.
    After(Vec<(&'a str, bool, SqlValue)>),
    /// Any one of the groups holds (each group: all of its conditions).
    Either(Vec<Vec<Condition<'a>>>),
    /// A JSON array column holds this string (a user's licenses).
    HasElement(&'a str, String),
    /// A JSON array column of `{type, id}` objects holds this one.
    HasTarget {
        column: &'a str,
        kind: String,
        id: String,
    },
    /// The JSON array column of `{type, id}` objects does not hold this one
    /// (what a reader may not see: a server its partner no longer has
    /// access to).
    LacksTarget {
        column: &'a str,
        kind: String,
        id: String,
    },
}

/// Most branches one query is split into for its [`Condition::AnyOf`]s
/// (SQLite allows 500 terms in a compound SELECT; past a few hundred the
/// planning costs more than the merge saves).
pub const MAX_BRANCHES: usize = 400;

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

/// Which conditions fan out (the `AnyOf`s, in order, while the branches
/// stay within MAX_BRANCHES; the rest stay `IN` inside every branch; one
/// with no values matches nothing, so no branches then), and how many
/// branches that makes.
fn fan_out(conditions: &[Condition<'_>]) -> (Vec<bool>, usize) {
    let any_empty = conditions
        .iter()
        .any(|c| matches!(c, Condition::AnyOf(_, values) if values.is_empty()));
    let mut branches = 1usize;
    let mut fanned = vec![false; conditions.len()];
    for (i, condition) in conditions.iter().enumerate() {
        if let Condition::AnyOf(_, values) = condition {
            if !any_empty && branches.saturating_mul(values.len()) <= MAX_BRANCHES {
                branches *= values.len();
                fanned[i] = true;
            }
        }
    }
    (fanned, branches)
}

/// Whether [`select`] answers these conditions with merged branches.
pub fn merges(conditions: &[Condition<'_>]) -> bool {
    fan_out(conditions).1 > 1
}

/// `SELECT columns FROM table t WHERE … ORDER BY … LIMIT …` and its
/// parameters, in order. `columns` is an expression over the row `t`;
/// `order_by` names plain columns (a merged query orders its branches'
/// rows by it).
pub fn select(
    table: &str,
    columns: &str,
    conditions: &[Condition<'_>],
    order_by: &str,
    limit: usize,
    dialect: Dialect,
) -> (String, Vec<SqlValue>) {
    let mut params: Vec<SqlValue> = Vec::new();
    let (fanned, branches) = fan_out(conditions);
    let merge = branches > 1;
    let fan_out: Vec<(&str, &Vec<SqlValue>)> = conditions
        .iter()
        .zip(&fanned)
        .filter_map(|(c, &fanned)| match c {
            Condition::AnyOf(column, values) if fanned && merge => Some((*column, values)),
            _ => None,
        })
        .collect();
    // Everything but the fanned-out columns, bound once and shared by the
    // branches (both dialects number their placeholders).
    let mut clauses = Vec::new();
    for (condition, &fanned) in conditions.iter().zip(&fanned) {
        if fanned && merge {
            continue;
        }
        let sql = match condition {
            // Inside a branch (one account, one action type) the rows are
            // few and walked in order: words are a filter on them, never a
            // trigram lookup over the whole table (which PostgreSQL would
            // otherwise AND in, per branch). `|| ''` keeps the index away.
            Condition::ContainsFolded(column, text) if merge => {
                contains(&format!("({column} || '')"), text, dialect, &mut params)
            }
            other => clause(other, dialect, &mut params),
        };
        clauses.push(sql);
    }
    if !merge {
        let where_clause = where_clause(&clauses);
        return (
            format!(
                "SELECT {columns} FROM {table} t{where_clause} ORDER BY {order_by} LIMIT {limit}"
            ),
            params,
        );
    }
    // One placeholder per fanned-out value, then one branch per combination.
    let marks: Vec<(&str, Vec<String>)> = fan_out
        .iter()
        .map(|(column, values)| {
            let marks = values
                .iter()
                .map(|v| {
                    params.push(v.clone());
                    dialect.placeholder(params.len())
                })
                .collect();
            (*column, marks)
        })
        .collect();
    let mut combination = vec![0usize; marks.len()];
    let mut parts = Vec::with_capacity(branches);
    for branch in 0..branches {
        let mut branch_clauses = clauses.clone();
        for ((column, column_marks), &i) in marks.iter().zip(&combination) {
            branch_clauses.push(format!("{column} = {}", column_marks[i]));
        }
        parts.push(format!(
            "SELECT * FROM (SELECT t.* FROM {table} t{} ORDER BY {order_by} LIMIT {limit}) b{branch}",
            where_clause(&branch_clauses)
        ));
        // The next combination, like an odometer.
        for (digit, (_, column_marks)) in combination.iter_mut().zip(&marks).rev() {
            *digit += 1;
            if *digit < column_marks.len() {
                break;
            }
            *digit = 0;
        }
    }
    (
        format!(
            "SELECT {columns} FROM ({} ORDER BY {order_by} LIMIT {limit}) t ORDER BY {order_by}",
            parts.join(" UNION ALL ")
        ),
        params,
    )
}

/// `SELECT count(*) FROM table t WHERE …` and its parameters (every
/// condition a plain clause: a count walks all matches anyway).
pub fn count(
    table: &str,
    conditions: &[Condition<'_>],
    dialect: Dialect,
) -> (String, Vec<SqlValue>) {
    let mut params = Vec::new();
    let clauses: Vec<String> = conditions
        .iter()
        .map(|c| clause(c, dialect, &mut params))
        .collect();
    (
        format!("SELECT count(*) FROM {table} t{}", where_clause(&clauses)),
        params,
    )
}

fn where_clause(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// Binds `value` as the next parameter and returns its placeholder.
fn mark(value: SqlValue, dialect: Dialect, params: &mut Vec<SqlValue>) -> String {
    params.push(value);
    dialect.placeholder(params.len())
}

fn in_clause(
    column: &str,
    values: &[SqlValue],
    dialect: Dialect,
    params: &mut Vec<SqlValue>,
) -> String {
    if values.is_empty() {
        return "1 = 0".to_owned();
    }
    let marks: Vec<String> = values
        .iter()
        .map(|v| mark(v.clone(), dialect, params))
        .collect();
    format!("{column} IN ({})", marks.join(", "))
}

/// `expression` contains `fold(text)`.
fn contains(expression: &str, text: &str, dialect: Dialect, params: &mut Vec<SqlValue>) -> String {
    format!(
        "{expression} LIKE {} ESCAPE '\\'",
        mark(
            SqlValue::text(format!("%{}%", escape_like(&fold(text)))),
            dialect,
            params
        )
    )
}

/// One condition as SQL (an `AnyOf` as a plain `IN`).
fn clause(condition: &Condition<'_>, dialect: Dialect, params: &mut Vec<SqlValue>) -> String {
    match condition {
        Condition::Eq(column, value) => {
            format!("{column} = {}", mark(value.clone(), dialect, params))
        }
        Condition::In(column, values) | Condition::AnyOf(column, values) => {
            in_clause(column, values, dialect, params)
        }
        Condition::EqFolded(column, text) => format!(
            "{column} = {}",
            mark(SqlValue::text(fold(text)), dialect, params)
        ),
        Condition::PrefixFolded(column, text) => {
            let folded = fold(text);
            match (dialect, prefix_successor(&folded)) {
                // SQLite serves LIKE from an index only on a NOCASE
                // column (while LIKE is case-insensitive), so ask for
                // the range every string with the prefix falls in: an
                // index on the BINARY-collated column serves it.
                (Dialect::Sqlite, Some(next)) => {
                    let low = mark(SqlValue::text(folded), dialect, params);
                    let high = mark(SqlValue::text(next), dialect, params);
                    format!("{column} >= {low} AND {column} < {high}")
                }
                // PostgreSQL: a text_pattern_ops index serves LIKE 'p%'.
                _ => format!(
                    "{column} LIKE {} ESCAPE '\\'",
                    mark(
                        SqlValue::text(format!("{}%", escape_like(&folded))),
                        dialect,
                        params
                    )
                ),
            }
        }
        Condition::ContainsFolded(column, text) => contains(column, text, dialect, params),
        Condition::AtLeast(column, value) => {
            format!("{column} >= {}", mark(value.clone(), dialect, params))
        }
        Condition::Below(column, value) => {
            format!("{column} < {}", mark(value.clone(), dialect, params))
        }
        Condition::Above(column, value) => {
            format!("{column} > {}", mark(value.clone(), dialect, params))
        }
        Condition::IsNull(column) => format!("{column} IS NULL"),
        Condition::NoneOf(conditions) => {
            let all: Vec<String> = conditions
                .iter()
                .map(|c| clause(c, dialect, params))
                .collect();
            match all.is_empty() {
                true => "FALSE".to_owned(),
                false => format!("NOT ({})", all.join(" AND ")),
            }
        }
        Condition::After(keys) => {
            let mut branches = Vec::with_capacity(keys.len());
            for (i, (column, descending, value)) in keys.iter().enumerate() {
                let mut parts: Vec<String> = keys[..i]
                    .iter()
                    .map(|(c, _, v)| format!("{c} = {}", mark(v.clone(), dialect, params)))
                    .collect();
                let beyond = if *descending { '<' } else { '>' };
                parts.push(format!(
                    "{column} {beyond} {}",
                    mark(value.clone(), dialect, params)
                ));
                branches.push(format!("({})", parts.join(" AND ")));
            }
            match branches.is_empty() {
                true => "TRUE".to_owned(),
                false => format!("({})", branches.join(" OR ")),
            }
        }
        Condition::Either(groups) => {
            let groups: Vec<String> = groups
                .iter()
                .map(|group| match group.is_empty() {
                    true => "TRUE".to_owned(),
                    false => {
                        let all: Vec<String> =
                            group.iter().map(|c| clause(c, dialect, params)).collect();
                        format!("({})", all.join(" AND "))
                    }
                })
                .collect();
            match groups.is_empty() {
                true => "FALSE".to_owned(),
                false => format!("({})", groups.join(" OR ")),
            }
        }
        Condition::HasElement(column, element) => {
            let element = mark(SqlValue::text(element.clone()), dialect, params);
            match dialect {
                Dialect::Postgres => format!("{column} @> jsonb_build_array({element}::text)"),
                Dialect::Sqlite => format!(
                    "EXISTS (SELECT 1 FROM json_each(t.{column}) j WHERE j.value = {element})"
                ),
            }
        }
        Condition::LacksTarget { column, kind, id } => {
            let has = Condition::HasTarget {
                column,
                kind: kind.clone(),
                id: id.clone(),
            };
            // A NULL column (an entry without targets) lacks it too.
            format!("NOT COALESCE(({}), FALSE)", clause(&has, dialect, params))
        }
        Condition::HasTarget { column, kind, id } => match dialect {
            // The GIN index is asked for the id alone: `{type, id}` would
            // also read the posting list of every target of that type
            // (millions of servers' entries, 6–9 ms at 10 M events) to
            // intersect it with the id's few hundred. The type is checked
            // on those rows (`|| '[]'` keeps that check off the index).
            Dialect::Postgres => {
                let id_only = mark(
                    SqlValue::Json(Some(serde_json::json!([{ "id": id }]))),
                    dialect,
                    params,
                );
                let exact = mark(
                    SqlValue::Json(Some(serde_json::json!([{ "type": kind, "id": id }]))),
                    dialect,
                    params,
                );
                format!(
                    "{column} @> {id_only}::jsonb AND ({column} || '[]'::jsonb) @> {exact}::jsonb"
                )
            }
            Dialect::Sqlite => {
                let kind = mark(SqlValue::text(kind.clone()), dialect, params);
                let id = mark(SqlValue::text(id.clone()), dialect, params);
                format!(
                    "EXISTS (SELECT 1 FROM json_each(t.{column}) j \
                     WHERE json_extract(j.value, '$.type') = {kind} \
                     AND json_extract(j.value, '$.id') = {id})"
                )
            }
        },
    }
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
             AND targets @> $4::jsonb AND (targets || '[]'::jsonb) @> $5::jsonb AND position < $6 \
             ORDER BY position DESC LIMIT 5"
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
    fn any_of_fans_out_into_merged_ordered_branches() {
        let accounts = vec![SqlValue::text("a"), SqlValue::text("b")];
        let types = vec![
            SqlValue::text("x"),
            SqlValue::text("y"),
            SqlValue::text("z"),
        ];
        let conditions = [
            Condition::AnyOf("account_id", accounts.clone()),
            Condition::ContainsFolded("description_folded", "Wall".into()),
            Condition::AnyOf("action_type", types.clone()),
        ];
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            let (sql, params) = select("t1", "*", &conditions, "position DESC", 7, dialect);
            // The shared condition once, then every fanned-out value once.
            assert_eq!(params.len(), 1 + 2 + 3, "{sql}");
            assert_eq!(params[0], SqlValue::text("%wall%"));
            assert_eq!(params[1..3], accounts[..]);
            assert_eq!(params[3..], types[..]);
            assert_eq!(sql.matches(" UNION ALL ").count(), 2 * 3 - 1, "{sql}");
            assert_eq!(sql.matches("ORDER BY position DESC LIMIT 7").count(), 7);
            let p = |n: usize| dialect.placeholder(n);
            // Every combination exactly once, each branch ordered and limited.
            for (a, t) in [(2, 4), (2, 5), (2, 6), (3, 4), (3, 5), (3, 6)] {
                let branch = format!(
                    "WHERE (description_folded || '') LIKE {} ESCAPE '\\' AND account_id = {} \
                     AND action_type = {} ORDER BY position DESC LIMIT 7",
                    p(1),
                    p(a),
                    p(t)
                );
                assert_eq!(sql.matches(&branch).count(), 1, "{branch} in {sql}");
            }
            assert!(sql.starts_with("SELECT * FROM (SELECT * FROM (SELECT t.* FROM t1 t"));
            assert!(sql.ends_with(") t ORDER BY position DESC"), "{sql}");
        }
    }

    #[test]
    fn any_of_is_a_plain_in_when_it_would_not_pay() {
        let many: Vec<SqlValue> = (0..=MAX_BRANCHES)
            .map(|i| SqlValue::Int(Some(i as i64)))
            .collect();
        let (sql, params) = select(
            "t1",
            "*",
            &[Condition::AnyOf("a", many)],
            "position DESC",
            3,
            Dialect::Postgres,
        );
        assert!(!sql.contains("UNION"), "{sql}");
        assert!(sql.starts_with("SELECT * FROM t1 t WHERE a IN ($1, $2,"));
        assert_eq!(params.len(), MAX_BRANCHES + 1);
        // What fits fans out; what would not stays IN inside each branch.
        let fits: Vec<SqlValue> = (0..MAX_BRANCHES / 2)
            .map(|i| SqlValue::Int(Some(i as i64)))
            .collect();
        let (sql, params) = select(
            "t1",
            "*",
            &[
                Condition::AnyOf("a", fits),
                Condition::AnyOf("b", (0..3).map(|i| SqlValue::Int(Some(i))).collect()),
            ],
            "position DESC",
            3,
            Dialect::Postgres,
        );
        assert_eq!(sql.matches(" UNION ALL ").count(), MAX_BRANCHES / 2 - 1);
        assert_eq!(
            sql.matches("WHERE b IN ($1, $2, $3) AND a = $").count(),
            MAX_BRANCHES / 2
        );
        assert_eq!(params.len(), 3 + MAX_BRANCHES / 2);
        // One value is one branch: plain equality through IN.
        let (sql, _) = select(
            "t1",
            "*",
            &[Condition::AnyOf("a", vec![SqlValue::text("v")])],
            "position DESC",
            3,
            Dialect::Sqlite,
        );
        assert_eq!(
            sql,
            "SELECT * FROM t1 t WHERE a IN (?1) ORDER BY position DESC LIMIT 3"
        );
        // No values: nothing matches, without branches.
        let (sql, _) = select(
            "t1",
            "*",
            &[
                Condition::AnyOf("a", vec![]),
                Condition::AnyOf("b", vec![SqlValue::text("v"), SqlValue::text("w")]),
            ],
            "position DESC",
            3,
            Dialect::Sqlite,
        );
        assert!(sql.contains("1 = 0") && !sql.contains("UNION"), "{sql}");
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
