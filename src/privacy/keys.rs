//! Where subject keys live: the `personal_keys` table beside `events` (see
//! `schema/*/V4__personal_keys.sql` for why it is outside the log).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::privacy::cipher::SubjectKey;
use crate::privacy::subject::Subject;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::StoreError;

/// A subject's key as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    Live(SubjectKey),
    /// Destroyed by a purge; the subject never gets a key again.
    Destroyed,
}

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The subjects' keys, creating (durably, before returning) a key for
    /// each subject that has none yet.
    async fn get_or_create(
        &self,
        subjects: &[Subject],
        at: DateTime<Utc>,
    ) -> Result<HashMap<Subject, KeyState>, StoreError>;
    /// The subjects' keys where a row exists (live or destroyed).
    async fn get(&self, subjects: &[Subject]) -> Result<HashMap<Subject, KeyState>, StoreError>;
    /// Destroys the subjects' keys (leaving tombstones); idempotent.
    async fn destroy(&self, subjects: &[Subject], at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Every key and tombstone, by subject (for `export --keys`).
    async fn dump(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Stores keys from another store (`import --keys`): new subjects are
    /// added, tombstones win over live keys, and a subject that has a
    /// different live key here is refused (nothing is stored then).
    async fn restore(&self, records: &[KeyRecord]) -> Result<(), StoreError>;
}

/// One row of `personal_keys`, as `export --keys` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub subject: Subject,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    pub destroyed_at: Option<DateTime<Utc>>,
}

/// What restoring `incoming` over what the store holds does.
fn merge(existing: Option<&KeyState>, incoming: &KeyRecord) -> Result<bool, StoreError> {
    match (existing, &incoming.state) {
        (None, _) => Ok(true),
        (Some(KeyState::Destroyed), _) => Ok(false),
        (Some(KeyState::Live(_)), KeyState::Destroyed) => Ok(true),
        (Some(KeyState::Live(a)), KeyState::Live(b)) if a == b => Ok(false),
        (Some(KeyState::Live(_)), KeyState::Live(_)) => Err(StoreError::Unavailable(format!(
            "{} already has a different key here; refusing to import keys",
            incoming.subject
        ))),
    }
}

fn secret_of(state: &KeyState) -> Option<Vec<u8>> {
    match state {
        KeyState::Live(key) => Some(key.as_bytes().to_vec()),
        KeyState::Destroyed => None,
    }
}

pub type SharedKeys = Arc<dyn KeyStore>;

fn fresh_keys(subjects: &[Subject]) -> Result<Vec<Vec<u8>>, StoreError> {
    subjects
        .iter()
        .map(|_| {
            SubjectKey::generate()
                .map(|k| k.as_bytes().to_vec())
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        })
        .collect()
}

fn key_state(secret: Option<Vec<u8>>) -> Result<KeyState, StoreError> {
    match secret {
        None => Ok(KeyState::Destroyed),
        Some(bytes) => SubjectKey::from_slice(&bytes)
            .map(KeyState::Live)
            .ok_or_else(|| StoreError::Unavailable("a personal key is not 32 bytes".into())),
    }
}

fn names(subjects: &[Subject]) -> Vec<String> {
    subjects.iter().map(|s| s.as_str().to_owned()).collect()
}

#[async_trait]
impl KeyStore for PgStore {
    async fn get_or_create(
        &self,
        subjects: &[Subject],
        at: DateTime<Utc>,
    ) -> Result<HashMap<Subject, KeyState>, StoreError> {
        if subjects.is_empty() {
            return Ok(HashMap::new());
        }
        let client = self.pool().get().await?;
        client
            .execute(
                "INSERT INTO personal_keys (subject, secret, created_at) \
                 SELECT s, k, $3 FROM unnest($1::text[], $2::bytea[]) AS t(s, k) \
                 ON CONFLICT (subject) DO NOTHING",
                &[&names(subjects), &fresh_keys(subjects)?, &at],
            )
            .await?;
        drop(client);
        self.get(subjects).await
    }

    async fn get(&self, subjects: &[Subject]) -> Result<HashMap<Subject, KeyState>, StoreError> {
        if subjects.is_empty() {
            return Ok(HashMap::new());
        }
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT subject, secret FROM personal_keys WHERE subject = ANY($1)",
                &[&names(subjects)],
            )
            .await?;
        rows.into_iter()
            .filter_map(|row| {
                let subject = Subject::parse(row.get::<_, &str>(0))?;
                Some(key_state(row.get(1)).map(|k| (subject, k)))
            })
            .collect()
    }

    async fn destroy(&self, subjects: &[Subject], at: DateTime<Utc>) -> Result<(), StoreError> {
        if subjects.is_empty() {
            return Ok(());
        }
        let client = self.pool().get().await?;
        client
            .execute(
                "INSERT INTO personal_keys (subject, secret, created_at, destroyed_at) \
                 SELECT s, NULL, $2, $2 FROM unnest($1::text[]) AS t(s) \
                 ON CONFLICT (subject) DO UPDATE SET secret = NULL, \
                 destroyed_at = COALESCE(personal_keys.destroyed_at, excluded.destroyed_at)",
                &[&names(subjects), &at],
            )
            .await?;
        Ok(())
    }

    async fn dump(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT subject, secret, created_at, destroyed_at FROM personal_keys ORDER BY subject",
                &[],
            )
            .await?;
        rows.into_iter()
            .filter_map(|row| {
                let subject = Subject::parse(row.get::<_, &str>(0))?;
                Some(key_state(row.get(1)).map(|state| KeyRecord {
                    subject,
                    state,
                    created_at: row.get(2),
                    destroyed_at: row.get(3),
                }))
            })
            .collect()
    }

    async fn restore(&self, records: &[KeyRecord]) -> Result<(), StoreError> {
        let subjects: Vec<Subject> = records.iter().map(|r| r.subject.clone()).collect();
        let existing = self.get(&subjects).await?;
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        for record in records {
            if !merge(existing.get(&record.subject), record)? {
                continue;
            }
            tx.execute(
                "INSERT INTO personal_keys (subject, secret, created_at, destroyed_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (subject) DO UPDATE SET \
                 secret = excluded.secret, destroyed_at = excluded.destroyed_at",
                &[
                    &record.subject.as_str(),
                    &secret_of(&record.state),
                    &record.created_at,
                    &record.destroyed_at,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn get_or_create(
        &self,
        subjects: &[Subject],
        at: DateTime<Utc>,
    ) -> Result<HashMap<Subject, KeyState>, StoreError> {
        if subjects.is_empty() {
            return Ok(HashMap::new());
        }
        let fresh = fresh_keys(subjects)?;
        let rows: Vec<(String, Vec<u8>)> = names(subjects).into_iter().zip(fresh).collect();
        self.with_reader(move |conn| {
            let tx = conn.unchecked_transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO personal_keys (subject, secret, created_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (subject) DO NOTHING",
                )?;
                for (subject, secret) in &rows {
                    insert.execute(rusqlite::params![subject, secret, at.to_rfc3339()])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
        self.get(subjects).await
    }

    async fn get(&self, subjects: &[Subject]) -> Result<HashMap<Subject, KeyState>, StoreError> {
        let subjects = subjects.to_vec();
        self.with_reader(move |conn| {
            let mut select =
                conn.prepare_cached("SELECT secret FROM personal_keys WHERE subject = ?1")?;
            let mut found = HashMap::new();
            for subject in subjects {
                let mut rows = select.query([subject.as_str()])?;
                if let Some(row) = rows.next()? {
                    found.insert(subject, key_state(row.get(0)?)?);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn destroy(&self, subjects: &[Subject], at: DateTime<Utc>) -> Result<(), StoreError> {
        let subjects = names(subjects);
        self.with_reader(move |conn| {
            // Overwrite freed pages so the key does not linger in the file.
            conn.pragma_update(None, "secure_delete", "ON")?;
            let tx = conn.unchecked_transaction()?;
            {
                let mut destroy = tx.prepare_cached(
                    "INSERT INTO personal_keys (subject, secret, created_at, destroyed_at) \
                     VALUES (?1, NULL, ?2, ?2) \
                     ON CONFLICT (subject) DO UPDATE SET secret = NULL, \
                     destroyed_at = COALESCE(personal_keys.destroyed_at, excluded.destroyed_at)",
                )?;
                for subject in &subjects {
                    destroy.execute(rusqlite::params![subject, at.to_rfc3339()])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn dump(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.with_reader(|conn| {
            let mut select = conn.prepare(
                "SELECT subject, secret, created_at, destroyed_at FROM personal_keys ORDER BY subject",
            )?;
            let rows = select.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })?;
            let mut records = Vec::new();
            for row in rows {
                let (subject, secret, created_at, destroyed_at) = row?;
                let Some(subject) = Subject::parse(&subject) else {
                    continue;
                };
                records.push(KeyRecord {
                    subject,
                    state: key_state(secret)?,
                    created_at: parse_time(&created_at)?,
                    destroyed_at: destroyed_at.as_deref().map(parse_time).transpose()?,
                });
            }
            Ok(records)
        })
        .await
    }

    async fn restore(&self, records: &[KeyRecord]) -> Result<(), StoreError> {
        let subjects: Vec<Subject> = records.iter().map(|r| r.subject.clone()).collect();
        let existing = self.get(&subjects).await?;
        let mut writes = Vec::new();
        for record in records {
            if merge(existing.get(&record.subject), record)? {
                writes.push(record.clone());
            }
        }
        self.with_reader(move |conn| {
            let tx = conn.unchecked_transaction()?;
            for record in &writes {
                tx.execute(
                    "INSERT INTO personal_keys (subject, secret, created_at, destroyed_at) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (subject) DO UPDATE SET \
                     secret = excluded.secret, destroyed_at = excluded.destroyed_at",
                    rusqlite::params![
                        record.subject.as_str(),
                        secret_of(&record.state),
                        record.created_at.to_rfc3339(),
                        record.destroyed_at.map(|t| t.to_rfc3339()),
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Unavailable(format!("personal_keys time {text:?}: {e}")))
}
