//! Where password hashes live: the `credentials` table beside `events`
//! (see `schema/*/V2__credentials.sql` for why it is outside the log).
//! A credential store also keeps when API keys were last used
//! (`auth::key_uses`), the other credential fact kept outside the log.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use crate::auth::key_uses::KeyUseStore;
use crate::domain::ids::UserId;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::StoreError;

#[async_trait]
pub trait CredentialStore: KeyUseStore + Send + Sync + 'static {
    /// Sets (or replaces) a user's password hash.
    async fn set(
        &self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The user's password hash, if one was set.
    async fn get(&self, user: UserId) -> Result<Option<String>, StoreError>;
    /// Forgets a user's password (purge).
    async fn remove(&self, user: UserId) -> Result<(), StoreError>;
}

pub type SharedCredentials = Arc<dyn CredentialStore>;

#[async_trait]
impl CredentialStore for PgStore {
    async fn set(
        &self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.pool().get().await?;
        client
            .execute(
                "INSERT INTO credentials (user_id, password_hash, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
                 updated_at = excluded.updated_at",
                &[&user.0, &password_hash, &at],
            )
            .await?;
        Ok(())
    }

    async fn get(&self, user: UserId) -> Result<Option<String>, StoreError> {
        let client = self.pool().get().await?;
        let row = client
            .query_opt(
                "SELECT password_hash FROM credentials WHERE user_id = $1",
                &[&user.0],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn remove(&self, user: UserId) -> Result<(), StoreError> {
        let client = self.pool().get().await?;
        client
            .execute("DELETE FROM credentials WHERE user_id = $1", &[&user.0])
            .await?;
        Ok(())
    }
}

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn set(
        &self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let password_hash = password_hash.to_owned();
        self.with_reader(move |conn| {
            conn.execute(
                "INSERT INTO credentials (user_id, password_hash, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
                 updated_at = excluded.updated_at",
                rusqlite::params![user.to_string(), password_hash, at.to_rfc3339()],
            )?;
            Ok(())
        })
        .await
    }

    async fn get(&self, user: UserId) -> Result<Option<String>, StoreError> {
        self.with_reader(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT password_hash FROM credentials WHERE user_id = ?1",
                    [user.to_string()],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn remove(&self, user: UserId) -> Result<(), StoreError> {
        self.with_reader(move |conn| {
            conn.execute(
                "DELETE FROM credentials WHERE user_id = ?1",
                [user.to_string()],
            )?;
            Ok(())
        })
        .await
    }
}
