//! Remembered answers for `Idempotency-Key`: the storage side.
//!
//! The HTTP middleware (`http/idempotency.rs`) claims a key before running
//! a command and records the answer after; a retry with the same key and
//! the same request gets the recorded answer, a retry while the first is
//! still running gets "in use", and the same key with another request is
//! refused. The claim is an INSERT that only one request can win, so two
//! racing retries never both run the command.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::StoreError;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// New key: run the command, then `finish` or `abandon`.
    Fresh,
    /// Answered before: send this again.
    Replay { status: u16, body: Vec<u8> },
    /// The first request with this key is still running.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;
    async fn finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError>;
    /// Forgets a claim whose command failed on our side (5xx), so the
    /// client's retry runs it again.
    async fn abandon(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}

pub type SharedIdempotency = Arc<dyn IdempotencyStore>;

fn classify(fingerprint: &str, stored: (String, Option<i64>, Option<Vec<u8>>)) -> Claim {
    match stored {
        (stored_fingerprint, _, _) if stored_fingerprint != fingerprint => Claim::Mismatch,
        (_, None, _) => Claim::InFlight,
        (_, Some(status), body) => Claim::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body: body.unwrap_or_default(),
        },
    }
}

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let client = self.pool().get().await?;
        let inserted = client
            .execute(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[&scope, &key, &fingerprint, &now],
            )
            .await?;
        if inserted == 1 {
            return Ok(Claim::Fresh);
        }
        let row = client
            .query_one(
                "SELECT fingerprint, status::bigint, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
                &[&scope, &key],
            )
            .await?;
        Ok(classify(fingerprint, (row.get(0), row.get(1), row.get(2))))
    }

    async fn finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let client = self.pool().get().await?;
        client
            .execute(
                "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2",
                &[&scope, &key, &i32::from(status), &body],
            )
            .await?;
        Ok(())
    }

    async fn abandon(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let client = self.pool().get().await?;
        client
            .execute(
                "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2",
                &[&scope, &key],
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let (scope, key, fingerprint) = (scope.to_owned(), key.to_owned(), fingerprint.to_owned());
        self.with_reader(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT DO NOTHING",
                rusqlite::params![scope, key, fingerprint, now.to_rfc3339()],
            )?;
            if inserted == 1 {
                return Ok(Claim::Fresh);
            }
            let stored = conn
                .query_row(
                    "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
                    [&scope, &key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            Ok(stored.map_or(Claim::InFlight, |stored| classify(&fingerprint, stored)))
        })
        .await
    }

    async fn finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let (scope, key, body) = (scope.to_owned(), key.to_owned(), body.to_vec());
        self.with_reader(move |conn| {
            conn.execute(
                "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE scope = ?1 AND key = ?2",
                rusqlite::params![scope, key, i64::from(status), body],
            )?;
            Ok(())
        })
        .await
    }

    async fn abandon(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.with_reader(move |conn| {
            conn.execute(
                "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
                [&scope, &key],
            )?;
            Ok(())
        })
        .await
    }
}
