//! The read kit every resource's reads share: waiting for `?position=`
//! (only on the read models a read touches), one keyset page of a read
//! model's rows in an account behind the matrix, and who may see a user.
//!
//! Why here: a read is the same three steps whatever it lists (ask the
//! matrix, wait for the projections, fetch a bounded page), and each
//! resource's module only names its table and its action.

use std::time::Duration;

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::app::history::Entity;
use crate::domain::ids::{AccountId, UserId};
use crate::domain::permissions::Action;
use crate::http::context::Caller;
use crate::http::error::ApiError;
use crate::http::paging::{fingerprint, Keyset, PageRequest};
use crate::http::AppState;
use crate::projection::query::Condition;
use crate::projection::SqlValue;

/// Longest a read waits for the projections to reach `?position=`.
const READ_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadAfter {
    /// A position a command returned: wait until it is projected.
    pub position: Option<u64>,
}

impl ReadAfter {
    pub(crate) const fn at(position: Option<u64>) -> Self {
        Self { position }
    }
}

/// Waits until the read models behind `tables` have applied `?position=`
/// (only those: a projector stuck elsewhere does not hold up this read).
pub(crate) async fn caught_up(
    state: &AppState,
    after: &ReadAfter,
    tables: &[&str],
) -> Result<(), ApiError> {
    let projectors: Vec<&str> = tables
        .iter()
        .filter_map(|t| state.projections.owner_of(t))
        .collect();
    // A position the log has not reached was never returned by a command:
    // waiting for it could only time out.
    if let Some(position) = after.position {
        let head = state.store.head().await?.position;
        if position > head {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "position_beyond_head",
                format!("position {position} is beyond the log's head ({head}): pass a position a command returned"),
            ));
        }
    }
    match after.position {
        Some(position)
            if !state
                .projections
                .wait_for_projectors(position, &projectors, READ_WAIT)
                .await =>
        {
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_yet_projected",
                format!("the read models have not reached position {position} yet; retry"),
            )
            .retry_after(1))
        }
        _ => Ok(()),
    }
}

/// The query of every list: `position` (wait for the read models), and
/// the page (`limit`, `cursor`; see `paging.rs`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A position a command returned: wait until it is projected.
    pub position: Option<u64>,
    /// Rows per page: 1 to 500, 100 by default.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page (of this same query).
    pub cursor: Option<String>,
}

/// A page of a list, and the cursor of the next one (absent on the last).
#[derive(Debug)]
pub(crate) struct Page {
    pub rows: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// A page of a read model's rows in an account, behind the matrix: the
/// caller must be allowed `action` there, and the read waits for
/// `?position=` first. Filters are conditions of the query itself, so a
/// page is full whenever more rows match.
pub(crate) struct AccountRows {
    action: Action,
    table: &'static str,
    keyset: &'static Keyset,
    /// What a row must meet for a partner's staff to read it (a server's
    /// grant standing): such readers get only those rows.
    partner_grant: Option<Condition<'static>>,
    /// The list's filters, each with the text that stands for it in the
    /// cursor's fingerprint.
    filters: Vec<(String, Condition<'static>)>,
}

impl AccountRows {
    /// The rows of `table` in the order of `keyset`.
    pub(crate) fn list(action: Action, table: &'static str, keyset: &'static Keyset) -> Self {
        Self {
            action,
            table,
            keyset,
            partner_grant: None,
            filters: Vec::new(),
        }
    }

    /// Rows a partner's staff read only where `condition` holds (a
    /// customer's servers: only those whose grant stands).
    pub(crate) fn granted_to_partners_when(mut self, condition: Condition<'static>) -> Self {
        self.partner_grant = Some(condition);
        self
    }

    /// Only the rows meeting `condition` (named `label` in cursors).
    pub(crate) fn filtered(mut self, label: String, condition: Condition<'static>) -> Self {
        self.filters.push((label, condition));
        self
    }

    /// Parses the page, asks the matrix, waits for `position`, fetches.
    pub(crate) async fn read(
        self,
        state: &AppState,
        caller: &Caller,
        account_id: AccountId,
        query: &ListQuery,
    ) -> Result<Page, ApiError> {
        let account = account_id.to_string();
        let mut parts = vec![account.as_str()];
        parts.extend(self.filters.iter().map(|(label, _)| label.as_str()));
        let page = PageRequest::parse(
            query.limit,
            query.cursor.as_deref(),
            fingerprint(self.keyset.list, &parts),
        )?;
        let scope = state
            .ledger
            .authorize_list(&caller.context, self.action, account_id)
            .await?;
        caught_up(state, &ReadAfter::at(query.position), &[self.table]).await?;
        let mut conditions = vec![Condition::Eq("account_id", SqlValue::text(account.clone()))];
        if let (Some(grant), true) = (self.partner_grant, scope.via_partner) {
            conditions.push(grant);
        }
        conditions.extend(self.filters.into_iter().map(|(_, c)| c));
        page_of(state, self.table, self.keyset, conditions, &page).await
    }
}

/// The page `page` asks for of the rows of `table` meeting `conditions`,
/// in `keyset`'s order.
pub(crate) async fn page_of(
    state: &AppState,
    table: &str,
    keyset: &Keyset,
    mut conditions: Vec<Condition<'static>>,
    page: &PageRequest,
) -> Result<Page, ApiError> {
    conditions.extend(page.after(keyset)?);
    let rows = state
        .projections
        .target()
        .query(table, &conditions, &keyset.order_by(), page.fetch_limit())
        .await?;
    let (rows, next_cursor) = page.finish(keyset, rows);
    Ok(Page { rows, next_cursor })
}

/// An account's own row of `table` (the account itself), behind `action`.
pub(crate) async fn account_row(
    state: &AppState,
    caller: &Caller,
    action: Action,
    table: &'static str,
    account_id: AccountId,
    position: Option<u64>,
) -> Result<Option<Value>, ApiError> {
    state
        .ledger
        .authorize_list(&caller.context, action, account_id)
        .await?;
    caught_up(state, &ReadAfter::at(position), &[table]).await?;
    let rows = state
        .projections
        .target()
        .fetch(
            table,
            &[("account_id", SqlValue::text(account_id.to_string()))],
            "account_id",
            1,
        )
        .await?;
    Ok(rows.into_iter().next())
}

/// Authorizes reading a user (the one question every surface showing a
/// user asks: `Ledger::authorize_read`); returns the user's account.
pub(crate) async fn visible_user(
    state: &AppState,
    caller: &Caller,
    user_id: UserId,
) -> Result<AccountId, ApiError> {
    Ok(state
        .ledger
        .authorize_read(&caller.context, Entity::User(user_id))
        .await?)
}
