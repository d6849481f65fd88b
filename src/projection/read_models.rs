//! Questions the application asks the read models (today: what a digest
//! run needs), answered with the tables' plain SQL.

use std::sync::Arc;

use async_trait::async_trait;

use crate::app::notifications::ActivitySource;
use crate::app::LedgerError;
use crate::domain::ids::{AccountId, UserId};
use crate::domain::notification::Period;
use crate::projection::{ProjectionError, ProjectionStore, SqlValue};
use crate::store::StoreError;

/// The read models of one store, as the application reads them.
pub struct ReadModels(pub Arc<dyn ProjectionStore>);

fn ledger_error(e: ProjectionError) -> LedgerError {
    match e {
        ProjectionError::Store(e) => LedgerError::Store(e),
        other => LedgerError::Store(StoreError::Unavailable(other.to_string())),
    }
}

/// Most rows a digest run reads per query.
const LIMIT: usize = 1_000_000;

#[async_trait]
impl ActivitySource for ReadModels {
    async fn digest_recipients(&self) -> Result<Vec<UserId>, LedgerError> {
        let mut users = Vec::new();
        for frequency in ["daily", "weekly"] {
            let rows = self
                .0
                .fetch(
                    "proj_users",
                    &[("notify_frequency", SqlValue::text(frequency))],
                    "user_id",
                    LIMIT,
                )
                .await
                .map_err(ledger_error)?;
            users.extend(
                rows.iter()
                    .filter_map(|r| r["user_id"].as_str()?.parse().ok())
                    .map(UserId),
            );
        }
        Ok(users)
    }

    async fn customers_of(&self, account: AccountId) -> Result<Vec<AccountId>, LedgerError> {
        let rows = self
            .0
            .fetch(
                "proj_accounts",
                &[("parent_id", SqlValue::text(account.to_string()))],
                "account_id",
                LIMIT,
            )
            .await
            .map_err(ledger_error)?;
        Ok(rows
            .iter()
            .filter_map(|r| r["account_id"].as_str()?.parse().ok())
            .map(AccountId)
            .collect())
    }

    async fn activity_counts(
        &self,
        accounts: &[AccountId],
        period: Period,
    ) -> Result<Vec<(String, u64)>, LedgerError> {
        let accounts: Vec<String> = accounts.iter().map(ToString::to_string).collect();
        self.0
            .activity_counts(&accounts, period.from, period.to)
            .await
            .map_err(ledger_error)
    }
}
