//! Questions the application asks the read models — what a digest run
//! and the partner-grant sweep need, and which entities an account had (the member index of as-of
//! lists) — answered with the tables' plain SQL.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::ids::{AccountId, ServerId, UserId};
use crate::domain::notification::Period;
use crate::projection::query::Condition;
use crate::projection::{account_entities, ProjectionError, ProjectionStore, SqlValue};
use crate::read_ports::{ActivitySource, GrantSource, IndexedMember, MemberIndex, MemberKind};
use crate::store::StoreError;

/// The read models of one store, as the application reads them.
pub struct ReadModels(pub Arc<dyn ProjectionStore>);

fn ledger_error(e: ProjectionError) -> StoreError {
    match e {
        ProjectionError::Store(e) => e,
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Most rows a digest run reads per query.
const LIMIT: usize = 1_000_000;

#[async_trait]
impl GrantSource for ReadModels {
    async fn grants_ending_by(&self, by: DateTime<Utc>) -> Result<Vec<ServerId>, StoreError> {
        let rows = self
            .0
            .query(
                crate::projection::servers::TABLE,
                &[
                    Condition::Eq("partner_access", SqlValue::Int(Some(1))),
                    Condition::Below("partner_access_until", SqlValue::Time(Some(by))),
                ],
                "server_id",
                LIMIT,
            )
            .await
            .map_err(ledger_error)?;
        Ok(rows
            .iter()
            .filter_map(|r| r["server_id"].as_str()?.parse().ok())
            .map(ServerId)
            .collect())
    }
}

#[async_trait]
impl ActivitySource for ReadModels {
    async fn digest_recipients(&self) -> Result<Vec<UserId>, StoreError> {
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

    async fn customers_of(&self, account: AccountId) -> Result<Vec<AccountId>, StoreError> {
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
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let accounts: Vec<String> = accounts.iter().map(ToString::to_string).collect();
        self.0
            .activity_counts(&accounts, period.from, period.to)
            .await
            .map_err(ledger_error)
    }
}

#[async_trait]
impl MemberIndex for ReadModels {
    async fn members(
        &self,
        kind: MemberKind,
        account: AccountId,
    ) -> Result<(u64, Vec<IndexedMember>), StoreError> {
        // The checkpoint first: rows and checkpoint commit together, so
        // every row at or before it is there when the rows are read (later
        // rows are left to the log).
        let through = self
            .0
            .checkpoint(account_entities::NAME)
            .await
            .map_err(ledger_error)?;
        let rows = self
            .0
            .query(
                account_entities::TABLE,
                &[
                    Condition::Eq("account_id", SqlValue::text(account.to_string())),
                    Condition::Eq("kind", SqlValue::text(kind.name())),
                    Condition::Below("position", SqlValue::Int(Some(through as i64 + 1))),
                ],
                "position",
                LIMIT,
            )
            .await
            .map_err(ledger_error)?;
        let members = rows
            .iter()
            .map(|row| {
                let unreadable = || {
                    ledger_error(ProjectionError::Backend(format!(
                        "{}: unreadable row {row}",
                        account_entities::TABLE
                    )))
                };
                Ok(IndexedMember {
                    id: row["entity_id"].as_str().ok_or_else(unreadable)?.to_owned(),
                    position: row["position"].as_u64().ok_or_else(unreadable)?,
                    recorded_at: row["recorded_at"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .ok_or_else(unreadable)?
                        .with_timezone(&Utc),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((through, members))
    }
}
