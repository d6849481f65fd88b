//! A batch's row changes made fewer without changing what they leave in
//! the tables: updates of one row merged, updates folded into the insert
//! that wrote the row, and each table's changes kept together.
//!
//! Why: a busy row (a server's settings, a user's counters) is updated by
//! many events of one batch, and every update is a statement the database
//! runs; merged, a batch costs one statement per row it leaves changed.
//! Keeping each table's changes together lets the backend send runs of
//! inserts as one statement (see `postgres/row_runs.rs`).
//!
//! Why it is safe — each rule only moves a change past changes it commutes
//! with:
//! - tables are independent (no projection table has a foreign key or a
//!   trigger, and a change names one table), so grouping by table keeps
//!   every table's own order and so its final rows;
//! - an update moves back past updates that select their rows by the same
//!   column with another value (disjoint rows; a change's `SET` expressions
//!   read only its own row) when neither sets that column, and merges into
//!   the nearest earlier update of the same rows when every column's two
//!   expressions combine into one;
//! - an update folds into the insert of the same key (its first column)
//!   met the same way when the insert replaces on conflict and lists every
//!   column the update sets: after such an insert the row's listed columns
//!   are exactly the inserted values, whatever was there before.
//!
//! Anything else (deletes, inserts of other keys, JSON-set edits that do
//! not combine) is a barrier, and the change is kept as it came.

use crate::projection::{OnConflict, RowChange, SetExpr, SqlValue};

/// How far back an update looks for a change to merge into.
const MERGE_WINDOW: usize = 256;

/// The changes with the same effect on the tables, fewer where rows repeat.
pub fn compact(changes: Vec<RowChange>) -> Vec<RowChange> {
    let mut tables: Vec<(&'static str, Vec<RowChange>)> = Vec::new();
    for change in changes {
        let table = table_of(&change);
        let at = match tables.iter().position(|(t, _)| *t == table) {
            Some(at) => at,
            None => {
                tables.push((table, Vec::new()));
                tables.len() - 1
            }
        };
        push(&mut tables[at].1, change);
    }
    tables.into_iter().flat_map(|(_, list)| list).collect()
}

fn table_of(change: &RowChange) -> &'static str {
    match change {
        RowChange::Insert { table, .. }
        | RowChange::Delete { table, .. }
        | RowChange::Update { table, .. } => table,
    }
}

/// Appends `change` to one table's list, merged into an earlier change
/// where that leaves the same rows.
fn push(list: &mut Vec<RowChange>, change: RowChange) {
    let RowChange::Update { key, set, .. } = &change else {
        list.push(change);
        return;
    };
    if set.iter().any(|(column, _)| *column == key.0) {
        list.push(change);
        return;
    }
    for earlier in list.iter_mut().rev().take(MERGE_WINDOW) {
        match earlier {
            RowChange::Update {
                key: earlier_key,
                set: earlier_set,
                ..
            } if earlier_key.0 == key.0 => {
                if earlier_set.iter().any(|(column, _)| *column == key.0) {
                    break;
                }
                if earlier_key.1 != key.1 {
                    continue;
                }
                if let Some(merged) = merge_sets(earlier_set, set) {
                    *earlier_set = merged;
                    return;
                }
                break;
            }
            RowChange::Insert {
                columns,
                on_conflict: OnConflict::Replace,
                ..
            } if columns
                .first()
                .is_some_and(|(c, v)| *c == key.0 && *v == key.1) =>
            {
                if let Some(folded) = fold_into_insert(columns, set) {
                    *columns = folded;
                    return;
                }
                break;
            }
            _ => break,
        }
    }
    list.push(change);
}

/// One set list doing what `first` then `then` do to a row, if one exists.
fn merge_sets(
    first: &[(&'static str, SetExpr)],
    then: &[(&'static str, SetExpr)],
) -> Option<Vec<(&'static str, SetExpr)>> {
    let mut merged = first.to_vec();
    for (column, expr) in then {
        match merged.iter_mut().find(|(c, _)| c == column) {
            Some((_, earlier)) => *earlier = combine(earlier, expr)?,
            None => merged.push((column, expr.clone())),
        }
    }
    Some(merged)
}

fn is_null(value: &SqlValue) -> bool {
    match value {
        SqlValue::Text(v) => v.is_none(),
        SqlValue::Int(v) => v.is_none(),
        SqlValue::Time(v) => v.is_none(),
        SqlValue::Json(v) => v.is_none(),
    }
}

/// `first` then `then` on one column, as one expression.
fn combine(first: &SetExpr, then: &SetExpr) -> Option<SetExpr> {
    Some(match (first, then) {
        (_, SetExpr::Value(v)) => SetExpr::Value(v.clone()),
        (SetExpr::Value(v), other) => SetExpr::Value(apply(v, other)?),
        (SetExpr::Add(m), SetExpr::Add(n)) => SetExpr::Add(m.checked_add(*n)?),
        (SetExpr::IfUnset(a), SetExpr::IfUnset(b)) => {
            SetExpr::IfUnset(if is_null(a) { b.clone() } else { a.clone() })
        }
        _ => return None,
    })
}

/// The value a column holding `value` has after `expr`, if known here.
fn apply(value: &SqlValue, expr: &SetExpr) -> Option<SqlValue> {
    Some(match expr {
        SetExpr::Value(v) => v.clone(),
        SetExpr::Add(n) => match value {
            SqlValue::Int(Some(a)) => SqlValue::Int(Some(a.checked_add(*n)?)),
            SqlValue::Int(None) => SqlValue::Int(None),
            _ => return None,
        },
        SetExpr::IfUnset(v) => {
            if is_null(value) {
                v.clone()
            } else {
                value.clone()
            }
        }
        SetExpr::JsonSetInsert(_) | SetExpr::JsonSetRemove(_) => return None,
    })
}

/// The insert's columns with the update applied, if it lists every column
/// the update sets and each expression's result is known.
fn fold_into_insert(
    columns: &[(&'static str, SqlValue)],
    set: &[(&'static str, SetExpr)],
) -> Option<Vec<(&'static str, SqlValue)>> {
    let mut folded = columns.to_vec();
    for (column, expr) in set {
        let (_, value) = folded.iter_mut().find(|(c, _)| c == column)?;
        *value = apply(value, expr)?;
    }
    Some(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> SqlValue {
        SqlValue::text(s)
    }

    fn update(
        table: &'static str,
        key: (&'static str, &str),
        set: Vec<(&'static str, SetExpr)>,
    ) -> RowChange {
        RowChange::Update {
            table,
            key: (key.0, text(key.1)),
            set,
        }
    }

    fn insert(table: &'static str, id: &str, count: i64, on_conflict: OnConflict) -> RowChange {
        RowChange::Insert {
            table,
            columns: vec![
                ("id", text(id)),
                ("count", SqlValue::Int(Some(count))),
                ("note", SqlValue::Text(None)),
            ],
            on_conflict,
        }
    }

    #[test]
    fn updates_of_one_row_merge_past_updates_of_other_rows() {
        let changes = vec![
            update(
                "t",
                ("id", "a"),
                vec![
                    ("count", SetExpr::Add(1)),
                    ("name", SetExpr::Value(text("x"))),
                ],
            ),
            update("t", ("id", "b"), vec![("count", SetExpr::Add(1))]),
            update(
                "t",
                ("id", "a"),
                vec![
                    ("count", SetExpr::Add(2)),
                    ("name", SetExpr::Value(text("y"))),
                ],
            ),
        ];
        assert_eq!(
            compact(changes),
            vec![
                update(
                    "t",
                    ("id", "a"),
                    vec![
                        ("count", SetExpr::Add(3)),
                        ("name", SetExpr::Value(text("y")))
                    ]
                ),
                update("t", ("id", "b"), vec![("count", SetExpr::Add(1))]),
            ]
        );
    }

    #[test]
    fn an_update_folds_into_the_replacing_insert_of_its_row() {
        let changes = vec![
            insert("t", "a", 1, OnConflict::Replace),
            update(
                "t",
                ("id", "a"),
                vec![
                    ("count", SetExpr::Add(4)),
                    ("note", SetExpr::IfUnset(text("n"))),
                ],
            ),
        ];
        let RowChange::Insert { columns, .. } = &compact(changes)[0] else {
            panic!("an insert");
        };
        assert_eq!(columns[1].1, SqlValue::Int(Some(5)));
        assert_eq!(columns[2].1, text("n"));
    }

    #[test]
    fn what_cannot_be_merged_is_kept_in_order() {
        // An insert that keeps an existing row may not take the update.
        let ignored = vec![
            insert("t", "a", 1, OnConflict::Ignore),
            update("t", ("id", "a"), vec![("count", SetExpr::Add(1))]),
        ];
        assert_eq!(compact(ignored.clone()), ignored);
        // A column the insert does not list stays with the update.
        let unlisted = vec![
            insert("t", "a", 1, OnConflict::Replace),
            update("t", ("id", "a"), vec![("other", SetExpr::Value(text("v")))]),
        ];
        assert_eq!(compact(unlisted.clone()), unlisted);
        // Another key's insert, a delete, or rows chosen by another column
        // stand between two updates of one row.
        for barrier in [
            insert("t", "b", 1, OnConflict::Replace),
            RowChange::Delete {
                table: "t",
                key: vec![("id", text("b"))],
            },
            update("t", ("owner", "u"), vec![("count", SetExpr::Add(1))]),
        ] {
            let changes = vec![
                update("t", ("id", "a"), vec![("count", SetExpr::Add(1))]),
                barrier,
                update("t", ("id", "a"), vec![("count", SetExpr::Add(1))]),
            ];
            assert_eq!(compact(changes.clone()), changes);
        }
        // JSON-set edits do not combine.
        let sets = vec![
            update(
                "t",
                ("id", "a"),
                vec![("tags", SetExpr::JsonSetInsert(text("x")))],
            ),
            update(
                "t",
                ("id", "a"),
                vec![("tags", SetExpr::JsonSetRemove(text("y")))],
            ),
        ];
        assert_eq!(compact(sets.clone()), sets);
    }

    #[test]
    fn tables_keep_their_own_order_when_grouped() {
        let changes = vec![
            insert("t", "a", 1, OnConflict::Ignore),
            insert("u", "a", 1, OnConflict::Ignore),
            insert("t", "b", 1, OnConflict::Ignore),
            RowChange::Delete {
                table: "u",
                key: vec![("id", text("a"))],
            },
        ];
        let compacted = compact(changes.clone());
        assert_eq!(
            compacted,
            vec![
                changes[0].clone(),
                changes[2].clone(),
                changes[1].clone(),
                changes[3].clone()
            ]
        );
    }
}
