//! Read models: projectors turn events into row changes; a projection store
//! applies them, with the projector's checkpoint, in one transaction.
//!
//! Why this split: a projector is a pure function of one event
//! ([`Projector::apply`]), so it is the same code on both backends and a
//! rebuilt projection equals the incrementally built one by construction —
//! and a test checks it. Row changes are a tiny, backend-neutral vocabulary
//! ([`RowChange`]): insert-or-replace, insert-if-absent, and update with
//! "set", "add", "set if unset" and "add to / remove from a JSON set of
//! strings", which both PostgreSQL and SQLite run as plain SQL. The tables themselves are defined in `projections/` and are
//! meant to be read with SQL by portal back ends.

pub mod account_entities;
pub mod accounts;
pub mod activity;
pub mod activity_search;
pub mod checkpoints;
pub mod compact;
pub mod digest;
pub mod invitations;
pub mod lease;
pub mod licenses;
pub mod outbox;
pub mod partner_kit;
pub mod postgres;
pub mod query;
pub mod quotes;
pub mod read_models;
pub mod runner;
pub mod servers;
pub mod service_accounts;
pub mod sessions;
pub mod sqlite;
pub mod stop_point;
pub mod tickets;
pub mod users;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::event::RecordedEvent;
use crate::store::StoreError;

/// A typed column value; `None` is SQL NULL of that type.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(Option<String>),
    Int(Option<i64>),
    Time(Option<DateTime<Utc>>),
    Json(Option<serde_json::Value>),
}

impl SqlValue {
    pub fn text(s: impl Into<String>) -> Self {
        SqlValue::Text(Some(s.into()))
    }
}

/// How an update sets a column.
#[derive(Debug, Clone, PartialEq)]
pub enum SetExpr {
    /// `column = value`
    Value(SqlValue),
    /// `column = column + n`
    Add(i64),
    /// `column = COALESCE(column, value)`: set only if unset.
    IfUnset(SqlValue),
    /// The column holds a JSON array of distinct strings in ascending
    /// (byte) order; add one (a no-op if present). For sets that grow by
    /// one event at a time (a user's licenses), which a pure projector
    /// cannot rewrite whole without reading the row.
    JsonSetInsert(SqlValue),
    /// Remove one string from such a JSON array (a no-op if absent).
    JsonSetRemove(SqlValue),
}

/// What to do when an inserted row's key exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Replace the given columns.
    Replace,
    /// Keep the existing row.
    Ignore,
}

/// One change to a projection table.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    /// Insert a row; `key` names the conflict column (the first column).
    Insert {
        table: &'static str,
        columns: Vec<(&'static str, SqlValue)>,
        on_conflict: OnConflict,
    },
    /// Delete the rows whose columns equal the values.
    Delete {
        table: &'static str,
        key: Vec<(&'static str, SqlValue)>,
    },
    /// Update the row whose `key` column equals the value.
    Update {
        table: &'static str,
        key: (&'static str, SqlValue),
        set: Vec<(&'static str, SetExpr)>,
    },
}

#[derive(Debug, Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("event at position {position} cannot be projected: {reason}")]
    Event { position: u64, reason: String },
    #[error("projection store: {0}")]
    Backend(String),
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
    #[error("unknown projection {0:?}")]
    Unknown(String),
    /// The batch did not commit: the lease was lost (expired or taken by
    /// another process) or the checkpoint moved since the batch began.
    #[error("projector {projector}: lease lost or checkpoint moved (expected {expected}); nothing committed")]
    Fenced { projector: String, expected: u64 },
    /// Another process holds the lease.
    #[error("projector {projector} is being applied by {holder}")]
    Held { projector: String, holder: String },
    /// `rebuild --verify`: the rebuilt copy differs from the live tables at
    /// the same position; nothing was swapped.
    #[error(transparent)]
    Differs(Box<Difference>),
    /// A swap gave up waiting for a long reader of the live table (and
    /// changed nothing); the rebuild tries again.
    #[error("the swap of {table} waited too long for its readers")]
    SwapBlocked { table: String },
    /// A checksum at a position the log has not reached.
    #[error("the log ends at position {head}; no checksum at {asked}")]
    BeyondHead { asked: u64, head: u64 },
}

/// How a rebuilt copy differs from the live tables (`rebuild --verify`).
#[derive(Debug, Error)]
#[error(
    "projection {projector}: the rebuilt copy differs from the live tables at position {position} \
     (live digest {live}, rebuilt {rebuilt}); nothing swapped, the copy is kept in its __next tables. \
     Rows only in the live tables: {only_live:?}; only in the rebuilt copy: {only_rebuilt:?}"
)]
pub struct Difference {
    pub projector: String,
    pub position: u64,
    pub live: String,
    pub rebuilt: String,
    pub only_live: Vec<String>,
    pub only_rebuilt: Vec<String>,
}

impl ProjectionError {
    /// Whether the error means "someone else applies this projector now"
    /// rather than a failure.
    pub fn is_fenced(&self) -> bool {
        matches!(self, ProjectionError::Fenced { .. })
    }
}

impl From<tokio_postgres::Error> for ProjectionError {
    fn from(e: tokio_postgres::Error) -> Self {
        ProjectionError::Store(e.into())
    }
}

impl From<rusqlite::Error> for ProjectionError {
    fn from(e: rusqlite::Error) -> Self {
        ProjectionError::Store(e.into())
    }
}

/// A read model: which tables it owns and how each event changes them.
pub trait Projector: Send + Sync + 'static {
    /// Its name, as `rebuild` takes it and as its checkpoint is keyed.
    fn name(&self) -> &'static str;
    /// The tables it owns (emptied by a rebuild).
    fn tables(&self) -> &'static [&'static str];
    /// The changes one event makes; most events make none.
    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError>;
    /// Its tables that a rebuild may fill before they have their keys
    /// (see [`BulkTable`]); none by default.
    fn bulk_tables(&self) -> &'static [BulkTable] {
        &[]
    }
}

/// A table a rebuild fills without its keys, with `COPY`, and gives its
/// keys afterwards with the secondary indexes.
///
/// Why: keeping a unique index over random keys (the activity log's
/// command ids) while 10 M rows go in costs a random index page per row —
/// once the index outgrows the database's buffers, most of the fill's
/// time; building it once afterwards is a sort. Measured in psql on 3 M
/// such rows: 57.5 s with the keys in place, 24.4 s inserting bare and
/// adding the keys after.
///
/// The projector promises, for such a table: every insert is
/// insert-if-absent keyed by `key` (its first column,
/// [`OnConflict::Ignore`]); it never deletes a row; and of two rows with one
/// key the one inserted first has the smaller `first_by`. Then the rows a
/// keyless fill holds twice can be told apart afterwards: the rebuild drops
/// those the keys would have refused (all but the smallest `first_by` per
/// key) before it builds the keys, and the copy equals one filled with its
/// keys in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkTable {
    pub table: &'static str,
    pub key: &'static str,
    pub first_by: &'static str,
}

/// Which copy of a projector's tables: the live one readers see, the
/// shadow a live rebuild fills before swapping it in, or a scratch copy
/// built to a past position for a checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    Live,
    /// `<table>__next`, checkpoint `<projector>#next`.
    Next,
    /// `<table>__at`, checkpoint `<projector>#at`.
    At,
}

impl CopyKind {
    /// What the copy's table names end with.
    pub fn suffix(self) -> &'static str {
        match self {
            CopyKind::Live => "",
            CopyKind::Next => "__next",
            CopyKind::At => "__at",
        }
    }

    /// The name of the copy's checkpoint (and lease) row.
    pub fn key(self, projector: &str) -> String {
        match self {
            CopyKind::Live => projector.to_owned(),
            CopyKind::Next => format!("{projector}#next"),
            CopyKind::At => format!("{projector}#at"),
        }
    }
}

/// Where projections live (a backend's tables).
#[async_trait]
pub trait ProjectionStore: Send + Sync + 'static {
    /// The last position the projector applied (0 if none).
    async fn checkpoint(&self, projector: &str) -> Result<u64, ProjectionError>;
    /// Every projector's checkpoint and lease, by name.
    async fn projector_rows(&self) -> Result<Vec<lease::ProjectorRow>, ProjectionError>;
    /// Takes the projector's lease for `holder` for `ttl` (see
    /// [`lease`]); `None` while another process holds it and `takeover`
    /// does not preempt. A holder that asks again gets a new token (which
    /// fences its own older batches).
    async fn acquire_lease(
        &self,
        projector: &str,
        holder: &str,
        ttl: std::time::Duration,
        takeover: lease::Takeover,
    ) -> Result<Option<lease::Lease>, ProjectionError>;
    /// Extends a live lease; false once it expired or another took it.
    async fn renew_lease(
        &self,
        lease: &lease::Lease,
        ttl: std::time::Duration,
    ) -> Result<bool, ProjectionError>;
    /// Records on a live lease why its holder cannot advance (`None`: it
    /// can again), for every process's `/readyz` and the CLI.
    async fn report_failure(
        &self,
        lease: &lease::Lease,
        failure: Option<&str>,
    ) -> Result<(), ProjectionError>;
    /// Ends a lease early (a worker stopping), so another takes over at once.
    async fn release_lease(&self, lease: &lease::Lease) -> Result<(), ProjectionError>;
    /// Applies changes and moves the checkpoint from `from` to `to`,
    /// atomically, while `lease` is live and the checkpoint still is
    /// `from`; otherwise nothing is committed ([`ProjectionError::Fenced`]).
    async fn commit(
        &self,
        lease: &lease::Lease,
        changes: &[RowChange],
        from: u64,
        to: u64,
    ) -> Result<(), ProjectionError> {
        self.commit_into(lease, CopyKind::Live, changes.to_vec(), from, to)
            .await
    }
    /// [`commit`](Self::commit) into a copy of the tables; the lease's
    /// name is the copy's checkpoint row ([`CopyKind::key`]). Takes the
    /// changes by value: a rebuild's batches are large, and the commit
    /// moves them into its own task instead of copying them.
    async fn commit_into(
        &self,
        lease: &lease::Lease,
        copy: CopyKind,
        changes: Vec<RowChange>,
        from: u64,
        to: u64,
    ) -> Result<(), ProjectionError>;
    /// Creates a copy of a projector's tables (same columns and keys, no
    /// secondary indexes yet; the `bulk` ones without their keys either)
    /// with its checkpoint at 0 — or, with `resume`, keeps a complete copy
    /// left by an interrupted run; returns the copy's checkpoint. Never
    /// touches the live tables. A backend may ignore `bulk`.
    async fn open_copy(
        &self,
        projector: &str,
        tables: &[&str],
        bulk: &[BulkTable],
        copy: CopyKind,
        resume: bool,
    ) -> Result<u64, ProjectionError>;
    /// Gives a copy the live tables' secondary indexes (after a bulk fill),
    /// and the `bulk` tables their keys, first dropping the rows the keys
    /// would have refused (see [`BulkTable`]).
    async fn index_copy(
        &self,
        tables: &[&str],
        bulk: &[BulkTable],
        copy: CopyKind,
    ) -> Result<(), ProjectionError>;
    /// Replaces the live tables with the `Next` copy in one transaction,
    /// fenced by the live lease, and moves the live checkpoint to the
    /// copy's: a reader sees the old tables or the new ones, never a mix,
    /// never an empty one. Returns the position swapped in.
    async fn swap_in(&self, live: &lease::Lease, tables: &[&str]) -> Result<u64, ProjectionError>;
    /// Drops a copy and its checkpoint.
    async fn drop_copy(
        &self,
        projector: &str,
        tables: &[&str],
        copy: CopyKind,
    ) -> Result<(), ProjectionError>;
    /// The digest of a copy's rows with its checkpoint, read in one
    /// snapshot.
    async fn digest(
        &self,
        projector: &str,
        tables: &[&str],
        copy: CopyKind,
    ) -> Result<digest::ProjectionDigest, ProjectionError>;
    /// Up to `limit` rows (as JSON text) of `table` in copy `a` and not in
    /// copy `b`.
    async fn rows_only_in(
        &self,
        table: &str,
        a: CopyKind,
        b: CopyKind,
        limit: usize,
    ) -> Result<Vec<String>, ProjectionError>;
    /// Activity-log rows per action type in `accounts` with
    /// `from <= recorded_at < to` (digests).
    async fn activity_counts(
        &self,
        accounts: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>, ProjectionError>;
    /// Rows of a table that meet every condition, as JSON objects, ordered
    /// by `order_by` (a column list written by our code, never by a
    /// client), at most `limit`.
    async fn query(
        &self,
        table: &str,
        conditions: &[query::Condition<'_>],
        order_by: &str,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, ProjectionError>;

    /// How many rows of a table meet every condition.
    async fn count(
        &self,
        table: &str,
        conditions: &[query::Condition<'_>],
    ) -> Result<u64, ProjectionError>;

    /// Rows of a table whose columns equal the given values (see
    /// [`query`](Self::query)).
    async fn fetch(
        &self,
        table: &str,
        filter: &[(&str, SqlValue)],
        order_by: &str,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, ProjectionError> {
        let conditions: Vec<query::Condition<'_>> = filter
            .iter()
            .map(|(column, value)| query::Condition::Eq(column, value.clone()))
            .collect();
        self.query(table, &conditions, order_by, limit).await
    }

    /// Every row of a table as JSON text, ordered by its first column (for
    /// comparisons and diagnostics).
    async fn dump(&self, table: &str) -> Result<Vec<String>, ProjectionError> {
        let rows = self.fetch(table, &[], "1", usize::MAX >> 1).await?;
        Ok(rows.iter().map(serde_json::Value::to_string).collect())
    }
}

/// Every projector of the product.
pub fn all_projectors() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(accounts::AccountsProjector),
        Arc::new(users::UsersProjector),
        Arc::new(activity::ActivityProjector),
        Arc::new(invitations::InvitationsProjector),
        Arc::new(licenses::LicensesProjector),
        Arc::new(servers::ServersProjector),
        Arc::new(tickets::TicketsProjector),
        Arc::new(outbox::OutboxProjector),
        Arc::new(sessions::SessionsProjector),
        Arc::new(checkpoints::CheckpointsProjector),
        Arc::new(quotes::QuotesProjector),
        Arc::new(partner_kit::PartnerKitProjector),
        Arc::new(account_entities::AccountEntitiesProjector),
        Arc::new(service_accounts::ServiceAccountsProjector),
    ]
}

/// An entity projector's view of one event: the entity's id (the stream id
/// after `<category>-`) and the decoded domain event; `None` when the event
/// is not in the category or of a type the projector does not know.
pub(crate) fn entity_event<E: serde::de::DeserializeOwned>(
    event: &RecordedEvent,
    category: &str,
    types: &[&str],
) -> Result<Option<(String, E)>, ProjectionError> {
    let Some(id) = event
        .stream_id
        .as_str()
        .strip_prefix(category)
        .and_then(|rest| rest.strip_prefix('-'))
    else {
        return Ok(None);
    };
    let decoded = crate::domain::codec::decode_known::<E>(event, types).map_err(|e| {
        ProjectionError::Event {
            position: event.position,
            reason: e.to_string(),
        }
    })?;
    Ok(decoded.map(|d| (id.to_owned(), d)))
}

/// An update of one entity's row that also stamps `updated_at` and
/// `position` from the event.
pub(crate) fn touch(
    table: &'static str,
    key: (&'static str, &str),
    event: &RecordedEvent,
    mut set: Vec<(&'static str, SetExpr)>,
) -> RowChange {
    set.push((
        "updated_at",
        SetExpr::Value(SqlValue::Time(Some(event.recorded_at))),
    ));
    set.push((
        "position",
        SetExpr::Value(SqlValue::Int(Some(event.position as i64))),
    ));
    RowChange::Update {
        table,
        key: (key.0, SqlValue::text(key.1)),
        set,
    }
}

/// The character NUL becomes in read models.
pub const NUL_REPLACEMENT: char = '\u{FFFD}';

/// Makes a change storable by every backend: NUL, which PostgreSQL's `text`
/// and `jsonb` refuse, becomes U+FFFD in every text and JSON value (keys
/// included). Free text is refused with control characters at the edge
/// (`domain::text`), but the log may hold older or imported events with
/// NUL, and nothing the log accepted may stop a projector. Applied on both
/// backends, so their read models stay identical; the log keeps the exact
/// bytes.
pub fn make_storable(change: &mut RowChange) {
    fn text(s: &mut String) {
        if s.contains('\0') {
            *s = s.replace('\0', &NUL_REPLACEMENT.to_string());
        }
    }
    fn json(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => text(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(json),
            serde_json::Value::Object(members) => {
                if members.keys().any(|k| k.contains('\0')) {
                    let old = std::mem::take(members);
                    for (mut key, value) in old {
                        text(&mut key);
                        members.insert(key, value);
                    }
                }
                members.values_mut().for_each(json);
            }
            _ => {}
        }
    }
    fn value(v: &mut SqlValue) {
        match v {
            SqlValue::Text(Some(s)) => text(s),
            SqlValue::Json(Some(j)) => json(j),
            _ => {}
        }
    }
    match change {
        RowChange::Insert { columns, .. } => columns.iter_mut().for_each(|(_, v)| value(v)),
        RowChange::Delete { key, .. } => key.iter_mut().for_each(|(_, v)| value(v)),
        RowChange::Update { key, set, .. } => {
            value(&mut key.1);
            for (_, expr) in set {
                match expr {
                    SetExpr::Value(v)
                    | SetExpr::IfUnset(v)
                    | SetExpr::JsonSetInsert(v)
                    | SetExpr::JsonSetRemove(v) => value(v),
                    SetExpr::Add(_) => {}
                }
            }
        }
    }
}

/// How a backend writes placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `$1`
    Postgres,
    /// `?1`
    Sqlite,
}

impl Dialect {
    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }
}

/// The SQL of a change and its parameters, in order.
#[cfg(test)]
pub(crate) fn to_sql(change: &RowChange, dialect: Dialect) -> (String, Vec<&SqlValue>) {
    to_sql_in(change, dialect, CopyKind::Live)
}

/// [`to_sql`] against a copy of the tables.
pub(crate) fn to_sql_in(
    change: &RowChange,
    dialect: Dialect,
    copy: CopyKind,
) -> (String, Vec<&SqlValue>) {
    let (sql, params) = to_sql_live(change, dialect);
    if copy == CopyKind::Live {
        return (sql, params);
    }
    let table = match change {
        RowChange::Insert { table, .. }
        | RowChange::Delete { table, .. }
        | RowChange::Update { table, .. } => table,
    };
    // The table name follows the statement's first keyword(s) once.
    let (head, rest) = sql.split_at(sql.find(&format!(" {table} ")).unwrap_or(0));
    let renamed = rest.replacen(
        &format!(" {table} "),
        &format!(" {table}{} ", copy.suffix()),
        1,
    );
    (format!("{head}{renamed}"), params)
}

/// What follows `ON CONFLICT` in an insert of the columns `names` (the key
/// first).
pub(crate) fn conflict_action(names: &[&str], on_conflict: OnConflict) -> String {
    match on_conflict {
        OnConflict::Ignore => "DO NOTHING".to_owned(),
        OnConflict::Replace => {
            let sets: Vec<String> = names[1..]
                .iter()
                .map(|n| format!("{n} = excluded.{n}"))
                .collect();
            format!("({}) DO UPDATE SET {}", names[0], sets.join(", "))
        }
    }
}

fn to_sql_live(change: &RowChange, dialect: Dialect) -> (String, Vec<&SqlValue>) {
    match change {
        RowChange::Insert {
            table,
            columns,
            on_conflict,
        } => {
            let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
            let marks: Vec<String> = (1..=columns.len())
                .map(|i| dialect.placeholder(i))
                .collect();
            let conflict = conflict_action(&names, *on_conflict);
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT {conflict}",
                names.join(", "),
                marks.join(", ")
            );
            (sql, columns.iter().map(|(_, v)| v).collect())
        }
        RowChange::Delete { table, key } => {
            let conditions: Vec<String> = key
                .iter()
                .enumerate()
                .map(|(i, (column, _))| format!("{column} = {}", dialect.placeholder(i + 1)))
                .collect();
            let sql = format!("DELETE FROM {table} WHERE {}", conditions.join(" AND "));
            (sql, key.iter().map(|(_, v)| v).collect())
        }
        RowChange::Update { table, key, set } => {
            let mut params: Vec<&SqlValue> = Vec::new();
            let mut sets = Vec::new();
            for (column, expr) in set {
                let sql = match expr {
                    SetExpr::Value(v) => {
                        params.push(v);
                        format!("{column} = {}", dialect.placeholder(params.len()))
                    }
                    SetExpr::IfUnset(v) => {
                        params.push(v);
                        format!(
                            "{column} = COALESCE({column}, {})",
                            dialect.placeholder(params.len())
                        )
                    }
                    SetExpr::Add(n) => format!("{column} = {column} + ({n})"),
                    SetExpr::JsonSetInsert(v) | SetExpr::JsonSetRemove(v) => {
                        params.push(v);
                        let p = dialect.placeholder(params.len());
                        let insert = matches!(expr, SetExpr::JsonSetInsert(_));
                        json_set_sql(column, &p, insert, dialect)
                    }
                };
                sets.push(sql);
            }
            params.push(&key.1);
            let sql = format!(
                "UPDATE {table} SET {} WHERE {} = {}",
                sets.join(", "),
                key.0,
                dialect.placeholder(params.len())
            );
            (sql, params)
        }
    }
}

/// `column = ` the JSON array in `column` with `p` added or removed, kept
/// distinct and sorted by bytes (so a rebuild gives the same text).
fn json_set_sql(column: &str, p: &str, insert: bool, dialect: Dialect) -> String {
    match (dialect, insert) {
        (Dialect::Postgres, true) => format!(
            "{column} = (SELECT COALESCE(jsonb_agg(e ORDER BY e COLLATE \"C\"), '[]'::jsonb) \
             FROM (SELECT jsonb_array_elements_text(COALESCE({column}, '[]'::jsonb)) AS e \
             UNION SELECT {p}::text) AS s)"
        ),
        (Dialect::Postgres, false) => format!(
            "{column} = (SELECT COALESCE(jsonb_agg(e ORDER BY e COLLATE \"C\"), '[]'::jsonb) \
             FROM jsonb_array_elements_text(COALESCE({column}, '[]'::jsonb)) AS e \
             WHERE e <> {p}::text)"
        ),
        (Dialect::Sqlite, true) => format!(
            "{column} = (SELECT json_group_array(value) FROM \
             (SELECT value FROM json_each(COALESCE({column}, '[]')) UNION SELECT {p} ORDER BY 1))"
        ),
        (Dialect::Sqlite, false) => format!(
            "{column} = (SELECT json_group_array(value) FROM \
             (SELECT value FROM json_each(COALESCE({column}, '[]')) WHERE value <> {p} ORDER BY 1))"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_become_the_same_sql_in_both_dialects() {
        let insert = RowChange::Insert {
            table: "t",
            columns: vec![("id", SqlValue::text("a")), ("n", SqlValue::Int(Some(1)))],
            on_conflict: OnConflict::Replace,
        };
        let (sql, params) = to_sql(&insert, Dialect::Postgres);
        assert_eq!(
            sql,
            "INSERT INTO t (id, n) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET n = excluded.n"
        );
        assert_eq!(params.len(), 2);
        let update = RowChange::Update {
            table: "t",
            key: ("id", SqlValue::text("a")),
            set: vec![
                ("n", SetExpr::Add(1)),
                ("owner", SetExpr::IfUnset(SqlValue::text("u"))),
                ("name", SetExpr::Value(SqlValue::text("x"))),
            ],
        };
        let (sql, params) = to_sql(&update, Dialect::Sqlite);
        assert_eq!(
            sql,
            "UPDATE t SET n = n + (1), owner = COALESCE(owner, ?1), name = ?2 WHERE id = ?3"
        );
        assert_eq!(params.len(), 3);
    }

    #[test]
    fn nul_becomes_the_replacement_character_everywhere_in_a_change() {
        let mut change = RowChange::Update {
            table: "t",
            key: ("id", SqlValue::text("a\0")),
            set: vec![
                ("name", SetExpr::Value(SqlValue::text("x\0y"))),
                (
                    "targets",
                    SetExpr::Value(SqlValue::Json(Some(
                        serde_json::json!({"k\0": ["\0", 1, {"v": "a\0"}]}),
                    ))),
                ),
                ("held", SetExpr::JsonSetInsert(SqlValue::text("\0"))),
                ("n", SetExpr::Add(1)),
            ],
        };
        make_storable(&mut change);
        let r = NUL_REPLACEMENT;
        assert_eq!(
            change,
            RowChange::Update {
                table: "t",
                key: ("id", SqlValue::text(format!("a{r}"))),
                set: vec![
                    ("name", SetExpr::Value(SqlValue::text(format!("x{r}y")))),
                    (
                        "targets",
                        SetExpr::Value(SqlValue::Json(Some(
                            serde_json::json!({format!("k{r}"): [r.to_string(), 1, {"v": format!("a{r}")}]}),
                        ))),
                    ),
                    (
                        "held",
                        SetExpr::JsonSetInsert(SqlValue::text(r.to_string()))
                    ),
                    ("n", SetExpr::Add(1)),
                ],
            }
        );
    }

    #[test]
    fn json_sets_take_one_parameter_per_change_in_both_dialects() {
        let update = RowChange::Update {
            table: "t",
            key: ("id", SqlValue::text("a")),
            set: vec![
                ("held", SetExpr::JsonSetInsert(SqlValue::text("x"))),
                ("gone", SetExpr::JsonSetRemove(SqlValue::text("y"))),
            ],
        };
        for (dialect, first, second, key) in [
            (Dialect::Postgres, "$1::text", "$2::text", "id = $3"),
            (Dialect::Sqlite, "UNION SELECT ?1", "value <> ?2", "id = ?3"),
        ] {
            let (sql, params) = to_sql(&update, dialect);
            assert!(sql.starts_with("UPDATE t SET held = (SELECT"), "{sql}");
            assert!(sql.contains(first) && sql.contains(second), "{sql}");
            assert!(sql.ends_with(key), "{sql}");
            assert_eq!(params.len(), 3);
        }
    }
}
