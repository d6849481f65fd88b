//! Moving per-person keys with the log (`export --keys`, `import --keys`).
//!
//! Why a separate file: the event export is what auditors take away, and it
//! must hold no readable personal data; the keys are what make it readable.
//! An operator moving a store to another backend moves both; an auditor
//! gets only the events. One JSON object per line:
//! `{"subject": "user-…", "secret": "<base64url>" | null, "created_at": …,
//! "destroyed_at": … | null}` — a `null` secret is a tombstone (a purged
//! person), which an import keeps destroyed.

use std::io::{BufRead, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::privacy::cipher::SubjectKey;
use crate::privacy::keys::{KeyRecord, KeyState, KeyStore};
use crate::privacy::subject::Subject;
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum KeyFileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    subject: String,
    secret: Option<String>,
    created_at: DateTime<Utc>,
    destroyed_at: Option<DateTime<Utc>>,
}

/// Writes every key and tombstone; returns how many.
pub async fn export_keys(keys: &dyn KeyStore, out: &mut dyn Write) -> Result<usize, KeyFileError> {
    let records = keys.dump().await?;
    for record in &records {
        let line = Line {
            subject: record.subject.as_str().to_owned(),
            secret: match &record.state {
                KeyState::Live(key) => Some(URL_SAFE_NO_PAD.encode(key.as_bytes())),
                KeyState::Destroyed => None,
            },
            created_at: record.created_at,
            destroyed_at: record.destroyed_at,
        };
        let text = serde_json::to_string(&line).map_err(|e| KeyFileError::Line {
            line: 0,
            reason: e.to_string(),
        })?;
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    Ok(records.len())
}

/// Reads a key file whole (it is checked before anything is stored), then
/// stores it; returns how many records it held.
pub async fn import_keys(
    keys: &dyn KeyStore,
    input: &mut dyn BufRead,
) -> Result<usize, KeyFileError> {
    let mut records = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| KeyFileError::Line {
            line: i + 1,
            reason,
        };
        let parsed: Line = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let subject =
            Subject::parse(&parsed.subject).ok_or_else(|| bad("not a person's subject".into()))?;
        let state = match &parsed.secret {
            None => KeyState::Destroyed,
            Some(text) => URL_SAFE_NO_PAD
                .decode(text)
                .ok()
                .and_then(|bytes| SubjectKey::from_slice(&bytes))
                .map(KeyState::Live)
                .ok_or_else(|| bad("secret is not 32 base64url bytes".into()))?,
        };
        if (state == KeyState::Destroyed) != parsed.destroyed_at.is_some() {
            return Err(bad("a tombstone has destroyed_at and no secret".into()));
        }
        records.push(KeyRecord {
            subject,
            state,
            created_at: parsed.created_at,
            destroyed_at: parsed.destroyed_at,
        });
    }
    keys.restore(&records).await?;
    Ok(records.len())
}
