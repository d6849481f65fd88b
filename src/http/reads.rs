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

/// One page of a read model's rows in an account: the caller must be
/// allowed `action` there; waits for `position` first.
pub(crate) struct AccountRows {
    pub action: Action,
    pub table: &'static str,
    pub order_by: &'static str,
    pub limit: usize,
}

pub(crate) async fn rows_in_account(
    state: &AppState,
    caller: &Caller,
    account_id: AccountId,
    position: Option<u64>,
    rows: AccountRows,
) -> Result<Vec<Value>, ApiError> {
    state
        .ledger
        .authorize_in(&caller.context, rows.action, account_id)
        .await?;
    caught_up(state, &ReadAfter { position }, &[rows.table]).await?;
    Ok(state
        .projections
        .target()
        .fetch(
            rows.table,
            &[("account_id", SqlValue::text(account_id.to_string()))],
            rows.order_by,
            rows.limit,
        )
        .await?)
}

/// Authorizes viewing a user: the user's account must be visible.
pub(crate) async fn visible_user(
    state: &AppState,
    caller: &Caller,
    user_id: UserId,
) -> Result<AccountId, ApiError> {
    let user = state.ledger.user(user_id).await?;
    let account = user.account_id.ok_or_else(ApiError::not_found)?;
    if caller.principal.user_id != user_id {
        state
            .ledger
            .authorize_in(&caller.context, Action::ViewUsers, account)
            .await?;
    }
    Ok(account)
}
