//! A batch's row changes as few PostgreSQL statements as their meaning
//! allows: a run of consecutive inserts of one shape (same table, columns,
//! value types and conflict rule) becomes one `INSERT … SELECT FROM
//! unnest(…)` statement; every other change stays one statement.
//!
//! Why: most of a rebuild's rows — and most of a busy portal's — are
//! inserts of new keys (activity entries, sessions, outbox messages), and a
//! statement per row costs PostgreSQL a bind, an executor start and a
//! result per row even when pipelined. One statement per run sends the
//! values as arrays and runs the executor once. The text of the merged
//! statement does not depend on the number of rows, so it is prepared once
//! per connection like the others.
//!
//! In a copy whose table has no keys yet (a rebuild's bulk fill, see
//! [`crate::projection::BulkTable`]), a run of inserts-if-absent is written
//! with binary `COPY` instead: with no key there is nothing to conflict
//! with, and `COPY` is the fastest way PostgreSQL takes rows.
//!
//! Meaning is kept: rows go in in their order (`WITH ORDINALITY … ORDER
//! BY`), so with `ON CONFLICT DO NOTHING` the first of two rows with one
//! key wins, as it would one statement at a time; a run that would replace
//! the same key twice is cut before the repeat (PostgreSQL refuses to
//! update one row twice in one statement).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;

use crate::projection::{
    conflict_action, to_sql_in, CopyKind, Dialect, OnConflict, RowChange, SqlValue,
};

/// One statement of a batch.
pub(super) enum Statement<'a> {
    /// SQL and the values it binds.
    Execute { sql: String, params: Vec<Param<'a>> },
    /// Rows (inserts of one shape) written with `COPY` into `table` (the
    /// copy's name).
    Copy {
        table: String,
        columns: Vec<&'static str>,
        rows: &'a [RowChange],
    },
}

/// A value bound to a statement: one value, or one column of a run.
pub(super) enum Param<'a> {
    One(&'a SqlValue),
    Texts(Vec<Option<&'a str>>),
    Ints(Vec<Option<i64>>),
    Times(Vec<Option<DateTime<Utc>>>),
    Jsons(Vec<Option<&'a serde_json::Value>>),
}

impl Param<'_> {
    pub fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::One(SqlValue::Text(v)) => v,
            Param::One(SqlValue::Int(v)) => v,
            Param::One(SqlValue::Time(v)) => v,
            Param::One(SqlValue::Json(v)) => v,
            Param::Texts(v) => v,
            Param::Ints(v) => v,
            Param::Times(v) => v,
            Param::Jsons(v) => v,
        }
    }
}

/// The value kinds of a row, which a run must share (an array has one type).
fn kinds<'a>(columns: &'a [(&'static str, SqlValue)]) -> impl Iterator<Item = u8> + 'a {
    columns.iter().map(|(_, v)| match v {
        SqlValue::Text(_) => 0,
        SqlValue::Int(_) => 1,
        SqlValue::Time(_) => 2,
        SqlValue::Json(_) => 3,
    })
}

/// Whether `b` may join a run of inserts begun by `a`.
fn same_shape(a: &RowChange, b: &RowChange) -> bool {
    match (a, b) {
        (
            RowChange::Insert {
                table: ta,
                columns: ca,
                on_conflict: oa,
            },
            RowChange::Insert {
                table: tb,
                columns: cb,
                on_conflict: ob,
            },
        ) => {
            ta == tb
                && oa == ob
                && ca.len() == cb.len()
                && ca.iter().zip(cb).all(|((na, _), (nb, _))| na == nb)
                && kinds(ca).eq(kinds(cb))
        }
        _ => false,
    }
}

/// A row's key (its first column) in a form that can be hashed.
#[derive(PartialEq, Eq, Hash)]
enum Key<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Time(Option<DateTime<Utc>>),
    Json(String),
}

fn key_of(change: &RowChange) -> Option<Key<'_>> {
    let RowChange::Insert { columns, .. } = change else {
        return None;
    };
    Some(match &columns.first()?.1 {
        SqlValue::Text(v) => Key::Text(v.as_deref()),
        SqlValue::Int(v) => Key::Int(*v),
        SqlValue::Time(v) => Key::Time(*v),
        SqlValue::Json(v) => Key::Json(v.as_ref().map(|v| v.to_string()).unwrap_or_default()),
    })
}

/// The statements that apply `changes`, in order, to `copy`, whose tables
/// named in `keyless` have no keys yet.
pub(super) fn statements<'a>(
    changes: &'a [RowChange],
    copy: CopyKind,
    keyless: &[String],
) -> Vec<Statement<'a>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < changes.len() {
        let len = run_length(&changes[at..]);
        match &changes[at] {
            RowChange::Insert {
                table,
                columns,
                on_conflict: OnConflict::Ignore,
            } if len >= 1 && copy != CopyKind::Live && keyless.iter().any(|t| t == table) => {
                out.push(Statement::Copy {
                    table: format!("{table}{}", copy.suffix()),
                    columns: columns.iter().map(|(n, _)| *n).collect(),
                    rows: &changes[at..at + len],
                });
            }
            RowChange::Insert {
                table,
                columns,
                on_conflict,
            } if len >= 2 => {
                let run = &changes[at..at + len];
                out.push(merged_insert(table, columns, *on_conflict, run, copy));
            }
            change => {
                let (sql, params) = to_sql_in(change, Dialect::Postgres, copy);
                out.push(Statement::Execute {
                    sql,
                    params: params.into_iter().map(Param::One).collect(),
                });
            }
        }
        at += len.max(1);
    }
    out
}

/// How many changes from the start form one run of inserts (0 when the
/// first is not an insert).
fn run_length(changes: &[RowChange]) -> usize {
    let Some(first) = changes.first() else {
        return 0;
    };
    let replaces = matches!(
        first,
        RowChange::Insert {
            on_conflict: OnConflict::Replace,
            ..
        }
    );
    if !matches!(first, RowChange::Insert { .. }) {
        return 0;
    }
    let mut keys = HashSet::new();
    let mut len = 0;
    for change in changes {
        if !same_shape(first, change) {
            break;
        }
        if replaces && !keys.insert(key_of(change)) {
            break;
        }
        len += 1;
    }
    len
}

/// One `INSERT … SELECT FROM unnest(…)` for a run of same-shaped inserts.
fn merged_insert<'a>(
    table: &str,
    columns: &[(&'static str, SqlValue)],
    on_conflict: OnConflict,
    run: &'a [RowChange],
    copy: CopyKind,
) -> Statement<'a> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let mut params: Vec<Param> = columns
        .iter()
        .map(|(_, v)| match v {
            SqlValue::Text(_) => Param::Texts(Vec::with_capacity(run.len())),
            SqlValue::Int(_) => Param::Ints(Vec::with_capacity(run.len())),
            SqlValue::Time(_) => Param::Times(Vec::with_capacity(run.len())),
            SqlValue::Json(_) => Param::Jsons(Vec::with_capacity(run.len())),
        })
        .collect();
    for change in run {
        let RowChange::Insert { columns, .. } = change else {
            continue;
        };
        for (param, (_, value)) in params.iter_mut().zip(columns) {
            match (param, value) {
                (Param::Texts(a), SqlValue::Text(v)) => a.push(v.as_deref()),
                (Param::Ints(a), SqlValue::Int(v)) => a.push(*v),
                (Param::Times(a), SqlValue::Time(v)) => a.push(*v),
                (Param::Jsons(a), SqlValue::Json(v)) => a.push(v.as_ref()),
                // `same_shape` made every row's kinds equal the first's.
                _ => {}
            }
        }
    }
    let arrays: Vec<String> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ty = match p {
                Param::Texts(_) | Param::One(_) => "text",
                Param::Ints(_) => "int8",
                Param::Times(_) => "timestamptz",
                Param::Jsons(_) => "jsonb",
            };
            format!("${}::{ty}[]", i + 1)
        })
        .collect();
    let conflict = conflict_action(&names, on_conflict);
    let list = names.join(", ");
    let sql = format!(
        "INSERT INTO {table}{suffix} ({list}) SELECT {list} FROM unnest({arrays}) \
         WITH ORDINALITY AS r ({list}, row_order) ORDER BY row_order ON CONFLICT {conflict}",
        suffix = copy.suffix(),
        arrays = arrays.join(", "),
    );
    Statement::Execute { sql, params }
}
