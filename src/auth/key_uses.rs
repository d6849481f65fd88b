//! When each API key was last used: the `api_key_uses` table beside
//! `events` (see `schema/*/V6__api_key_uses.sql` for why it is outside the
//! log).
//!
//! Authentication records a use at most once a minute per key and process
//! ([`KeyUseRecorder`]), so a busy integration costs one write a minute,
//! not one per request; a write only ever moves the time forward, so
//! replicas cannot set it back.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::domain::ids::ApiKeyId;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::StoreError;

/// How stale a key's recorded last use may be.
pub const USE_RESOLUTION: Duration = Duration::minutes(1);

#[async_trait]
pub trait KeyUseStore: Send + Sync + 'static {
    /// Records that `key` was used at `at` (kept if a later use is known).
    async fn record_use(&self, key: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// When each of `keys` was last used (absent: never).
    async fn last_uses(
        &self,
        keys: &[ApiKeyId],
    ) -> Result<HashMap<ApiKeyId, DateTime<Utc>>, StoreError>;
}

#[async_trait]
impl KeyUseStore for PgStore {
    async fn record_use(&self, key: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let client = self.pool().get().await?;
        client
            .execute(
                "INSERT INTO api_key_uses (key_id, last_used_at) VALUES ($1, $2) \
                 ON CONFLICT (key_id) DO UPDATE \
                 SET last_used_at = GREATEST(api_key_uses.last_used_at, excluded.last_used_at)",
                &[&key.0, &at],
            )
            .await?;
        Ok(())
    }

    async fn last_uses(
        &self,
        keys: &[ApiKeyId],
    ) -> Result<HashMap<ApiKeyId, DateTime<Utc>>, StoreError> {
        let ids: Vec<uuid::Uuid> = keys.iter().map(|k| k.0).collect();
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT key_id, last_used_at FROM api_key_uses WHERE key_id = ANY($1)",
                &[&ids],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (ApiKeyId(r.get(0)), r.get(1)))
            .collect())
    }
}

#[async_trait]
impl KeyUseStore for SqliteStore {
    async fn record_use(&self, key: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with_reader(move |conn| {
            conn.execute(
                "INSERT INTO api_key_uses (key_id, last_used_at) VALUES (?1, ?2) \
                 ON CONFLICT (key_id) DO UPDATE \
                 SET last_used_at = MAX(api_key_uses.last_used_at, excluded.last_used_at)",
                rusqlite::params![key.to_string(), at.to_rfc3339()],
            )?;
            Ok(())
        })
        .await
    }

    async fn last_uses(
        &self,
        keys: &[ApiKeyId],
    ) -> Result<HashMap<ApiKeyId, DateTime<Utc>>, StoreError> {
        let keys = keys.to_vec();
        self.with_reader(move |conn| {
            let mut statement =
                conn.prepare("SELECT last_used_at FROM api_key_uses WHERE key_id = ?1")?;
            let mut found = HashMap::new();
            for key in keys {
                let mut rows = statement.query([key.to_string()])?;
                if let Some(row) = rows.next()? {
                    let text: String = row.get(0)?;
                    if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
                        found.insert(key, at.with_timezone(&Utc));
                    }
                }
            }
            Ok(found)
        })
        .await
    }
}

/// Records key uses through a store, skipping a key used again within
/// [`USE_RESOLUTION`] of the last recorded use by this process.
#[derive(Default)]
pub struct KeyUseRecorder {
    recorded: Mutex<HashMap<ApiKeyId, DateTime<Utc>>>,
}

impl KeyUseRecorder {
    /// Whether a use of `key` at `at` is worth writing (and notes it).
    pub fn due(&self, key: ApiKeyId, at: DateTime<Utc>) -> bool {
        let mut recorded = match self.recorded.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match recorded.get(&key) {
            Some(last) if at - *last < USE_RESOLUTION => false,
            _ => {
                // Bounded: forget everything now and then rather than grow
                // with every key ever seen.
                if recorded.len() > 100_000 {
                    recorded.clear();
                }
                recorded.insert(key, at);
                true
            }
        }
    }
}
