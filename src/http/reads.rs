//! The read kit every resource's reads share: waiting for `?position=`
//! (only on the read models a read touches), one page of a read model's
//! rows in an account behind the matrix, and who may see a user.
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
use crate::http::AppState;
use crate::projection::SqlValue;

/// Longest a read waits for the projections to reach `?position=`.
const READ_WAIT: Duration = Duration::from_secs(5);
/// Most rows a list returns.
pub(crate) const PAGE_LIMIT: usize = 500;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadAfter {
    /// A position a command returned: wait until it is projected.
    pub position: Option<u64>,
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
            ))
        }
        _ => Ok(()),
    }
}

/// Rows of a read model in an account, behind the matrix: the caller must
/// be allowed `action` there, and the read waits for `?position=` first.
pub(crate) struct AccountRows {
    action: Action,
    table: &'static str,
    order_by: &'static str,
    limit: usize,
    /// A column saying whether a partner's staff may read the row (a
    /// server's grant): such readers get only the rows where it is set.
    partner_grant: Option<&'static str>,
}

impl AccountRows {
    /// One page (at most [`PAGE_LIMIT`] rows) of `table`, in `order_by`.
    pub(crate) const fn page(action: Action, table: &'static str, order_by: &'static str) -> Self {
        Self {
            action,
            table,
            order_by,
            limit: PAGE_LIMIT,
            partner_grant: None,
        }
    }

    /// Rows a partner's staff read only where `column` is set (a customer's
    /// servers: only those it granted access to).
    pub(crate) const fn granted_to_partners_by(mut self, column: &'static str) -> Self {
        self.partner_grant = Some(column);
        self
    }

    /// The account's one row of `table` (the account itself).
    pub(crate) const fn one(action: Action, table: &'static str, order_by: &'static str) -> Self {
        Self {
            limit: 1,
            ..Self::page(action, table, order_by)
        }
    }

    /// Asks the matrix, waits for `position`, fetches.
    pub(crate) async fn read(
        self,
        state: &AppState,
        caller: &Caller,
        account_id: AccountId,
        position: Option<u64>,
    ) -> Result<Vec<Value>, ApiError> {
        let scope = state
            .ledger
            .authorize_list(&caller.context, self.action, account_id)
            .await?;
        caught_up(state, &ReadAfter { position }, &[self.table]).await?;
        let mut filter = vec![("account_id", SqlValue::text(account_id.to_string()))];
        if let (Some(column), true) = (self.partner_grant, scope.via_partner) {
            filter.push((column, SqlValue::Int(Some(1))));
        }
        Ok(state
            .projections
            .target()
            .fetch(self.table, &filter, self.order_by, self.limit)
            .await?)
    }
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
