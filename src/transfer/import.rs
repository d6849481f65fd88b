//! `import`: NDJSON into the log, all or nothing, through the backend's
//! bulk path.
//!
//! Every line is checked before it is written, in one pass:
//! * a *chained* line (it carries `position`, `prev_hash` and `hash`) must
//!   carry the full envelope and continue the chain exactly — the same rules
//!   `verify` applies ([`ChainChecker`]);
//! * a *legacy* line (none of the three) is numbered, timed and hashed on the
//!   way in; `event_id`, `stream_version`, `recorded_at` and `schema_version`
//!   are optional and, when present, must fit.
//!
//! The first bad line aborts the import with its line number and reason;
//! the backend's transaction is rolled back, so nothing is appended.

use std::collections::HashSet;
use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use thiserror::Error;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::chain::HashedFields;
use crate::domain::{catalog, upcast};
use crate::event::{to_log_time, EventType, Hash, JsonObject, RecordedEvent, StreamId};
use crate::integrity::ChainChecker;
use crate::json_numbers;
use crate::store::append::MAX_EVENT_BYTES;
use crate::store::import::{BulkImport, ImportSession};
use crate::store::StoreError;

/// Rows handed to the backend at a time.
const CHUNK: usize = 10_000;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("line {line}: {reason}")]
    BadLine { line: u64, reason: String },
    #[error("reading the import: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub events: u64,
    pub head: u64,
}

/// One NDJSON line as it may come in: a full envelope or a legacy record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    position: Option<u64>,
    event_id: Option<Uuid>,
    stream_id: String,
    stream_version: Option<u64>,
    event_type: String,
    schema_version: Option<u32>,
    payload: serde_json::Value,
    metadata: Option<serde_json::Value>,
    recorded_at: Option<String>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

/// A checked chunk on its way from the parser to the backend.
struct Chunk {
    events: Vec<RecordedEvent>,
    /// The input line of each event.
    lines: Vec<u64>,
    /// Bytes of input read so far.
    bytes_read: u64,
}

/// Imports every line of `input`. `on_progress` receives the bytes read so
/// far after each chunk. Blank lines are skipped.
///
/// Parsing, canonicalizing and hashing run on a blocking thread one chunk
/// ahead of the backend's writes, so the CPU work and the database's COPY
/// overlap instead of taking turns.
pub async fn import_ndjson(
    store: &dyn BulkImport,
    input: impl BufRead + Send + 'static,
    mut on_progress: impl FnMut(u64),
) -> Result<Imported, ImportError> {
    let mut session = store.begin_import().await?;
    let head = session.head();
    let versions = if head.position == 0 {
        Default::default()
    } else {
        session.stream_versions().await?
    };
    let check_existing = head.position > 0;
    let checker = ChainChecker::continuing(head.position, head.hash, head.recorded_at, versions);

    let (chunks_tx, mut chunks) = mpsc::channel::<Result<Chunk, ImportError>>(2);
    let parser = tokio::task::spawn_blocking(move || parse_chunks(input, checker, chunks_tx));

    let mut imported = 0u64;
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        if check_existing {
            refuse_stored_ids(&mut *session, &chunk).await?;
        }
        session.write(&chunk.events).await?;
        imported += chunk.events.len() as u64;
        on_progress(chunk.bytes_read);
    }
    let last_position = parser
        .await
        .map_err(|e| ImportError::Io(std::io::Error::other(e.to_string())))?;
    session.commit().await?;
    Ok(Imported {
        events: imported,
        head: last_position,
    })
}

/// The parser thread: checks every line in order and sends chunks; stops at
/// the first bad line (sending its error) or when the receiver is gone.
/// Returns the last position it accepted.
fn parse_chunks(
    input: impl BufRead,
    mut checker: ChainChecker,
    chunks: mpsc::Sender<Result<Chunk, ImportError>>,
) -> u64 {
    let now = to_log_time(Utc::now());
    let mut seen_ids: HashSet<Uuid> = HashSet::new();
    let mut chunk = Chunk {
        events: Vec::with_capacity(CHUNK),
        lines: Vec::with_capacity(CHUNK),
        bytes_read: 0,
    };
    for (index, line) in input.lines().enumerate() {
        let line_number = index as u64 + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                let _ = chunks.blocking_send(Err(e.into()));
                return checker.last_position();
            }
        };
        chunk.bytes_read += line.len() as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Err(reason) = accept_line(&line, &mut checker, &mut seen_ids, now, &mut chunk.events)
        {
            let _ = chunks.blocking_send(Err(ImportError::BadLine {
                line: line_number,
                reason,
            }));
            return checker.last_position();
        }
        chunk.lines.push(line_number);
        if chunk.events.len() == CHUNK {
            let next = Chunk {
                events: Vec::with_capacity(CHUNK),
                lines: Vec::with_capacity(CHUNK),
                bytes_read: chunk.bytes_read,
            };
            if chunks
                .blocking_send(Ok(std::mem::replace(&mut chunk, next)))
                .is_err()
            {
                return checker.last_position();
            }
        }
    }
    if !chunk.events.is_empty() {
        let _ = chunks.blocking_send(Ok(chunk));
    }
    checker.last_position()
}

/// Parses and checks one line and appends its event to `out`.
fn accept_line(
    text: &str,
    checker: &mut ChainChecker,
    seen_ids: &mut HashSet<Uuid>,
    now: DateTime<Utc>,
    out: &mut Vec<RecordedEvent>,
) -> Result<(), String> {
    let (event, chained) = to_event(text, checker, now)?;
    if !seen_ids.insert(event.event_id) {
        return Err(format!("event id {} appears twice", event.event_id));
    }
    let checked = if chained {
        checker.check(&event)
    } else {
        checker.check_own(&event)
    };
    checked.map_err(|b| b.to_string())?;
    out.push(event);
    Ok(())
}

/// Refuses a chunk holding an event id the log already has.
async fn refuse_stored_ids(
    session: &mut dyn ImportSession,
    chunk: &Chunk,
) -> Result<(), ImportError> {
    let ids: Vec<Uuid> = chunk.events.iter().map(|e| e.event_id).collect();
    let existing = session.existing_event_ids(&ids).await?;
    match existing.first() {
        None => Ok(()),
        Some(id) => {
            let index = ids.iter().position(|i| i == id).unwrap_or(0);
            Err(ImportError::BadLine {
                line: chunk.lines[index],
                reason: format!("event id {id} is already in the log"),
            })
        }
    }
}

/// Turns a line into the envelope it will be stored as, and says whether it
/// was chained. Chained lines are taken as they are (the checker then proves
/// them); legacy lines are completed from the checker's view of the log.
fn to_event(
    text: &str,
    log: &ChainChecker,
    now: DateTime<Utc>,
) -> Result<(RecordedEvent, bool), String> {
    let line: Line =
        serde_json::from_str(text).map_err(|e| format!("not a valid event line: {e}"))?;
    // Numbers the canonical form would change are refused, named by their
    // path in the line (`crate::json_numbers`), before anything is stored.
    let metadata_exact = line
        .metadata
        .as_ref()
        .is_none_or(json_numbers::only_exact_integers);
    if !json_numbers::only_exact_integers(&line.payload) || !metadata_exact {
        if let Some(number) = json_numbers::first_inexact_in_text(text, "") {
            return Err(number.to_string());
        }
    }
    let stream_id = StreamId::parse(line.stream_id).map_err(|e| e.to_string())?;
    let event_type = EventType::parse(line.event_type).map_err(|e| e.to_string())?;
    let payload = JsonObject::from_value("payload", &line.payload).map_err(|e| e.to_string())?;
    let metadata = match &line.metadata {
        Some(value) => JsonObject::from_value("metadata", value).map_err(|e| e.to_string())?,
        None => JsonObject::empty(),
    };
    if payload.len() + metadata.len() > MAX_EVENT_BYTES {
        return Err(format!(
            "payload and metadata are larger than {MAX_EVENT_BYTES} bytes"
        ));
    }
    let schema_version = line.schema_version.unwrap_or(1);
    if schema_version == 0 {
        return Err("schema_version must be at least 1".into());
    }
    // A domain event at a version this service cannot read (a newer
    // service's export) would stop every projector that decodes it.
    let current = upcast::current_version(event_type.as_str());
    if catalog::knows(event_type.as_str()) && schema_version > current {
        return Err(format!(
            "schema_version {schema_version} of {event_type} is unknown here (this service \
             reads versions 1 to {current}; import it with the service that exported it)"
        ));
    }
    let recorded_at = match &line.recorded_at {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| to_log_time(t.with_timezone(&Utc)))
            .map_err(|e| format!("recorded_at: {e}"))?,
        None => log.last_time().map_or(now, |last| last.max(now)),
    };

    let chained = line.position.is_some() || line.prev_hash.is_some() || line.hash.is_some();
    if chained {
        let missing: Vec<&str> = [
            ("position", line.position.is_none()),
            ("event_id", line.event_id.is_none()),
            ("stream_version", line.stream_version.is_none()),
            ("schema_version", line.schema_version.is_none()),
            ("recorded_at", line.recorded_at.is_none()),
            ("prev_hash", line.prev_hash.is_none()),
            ("hash", line.hash.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "a line with a position or hash must carry the whole envelope; missing {}",
                missing.join(", ")
            ));
        }
        let hash_field = |name: &str, value: Option<String>| {
            Hash::from_hex(value.as_deref().unwrap_or_default()).map_err(|e| format!("{name}: {e}"))
        };
        let event = RecordedEvent {
            position: line.position.unwrap_or_default(),
            event_id: line.event_id.unwrap_or_default(),
            stream_id,
            stream_version: line.stream_version.unwrap_or_default(),
            event_type,
            schema_version,
            payload,
            metadata,
            recorded_at,
            prev_hash: hash_field("prev_hash", line.prev_hash)?,
            hash: hash_field("hash", line.hash)?,
        };
        return Ok((event, true));
    }

    let position = log.last_position() + 1;
    let stream_version = line
        .stream_version
        .unwrap_or_else(|| log.next_version(stream_id.as_str()));
    let event_id = line.event_id.unwrap_or_else(Uuid::now_v7);
    let prev_hash = log.last_hash();
    let hash = HashedFields {
        position,
        event_id,
        stream_id: &stream_id,
        stream_version,
        event_type: &event_type,
        schema_version,
        payload: &payload,
        metadata: &metadata,
        recorded_at,
    }
    .chained_hash(&prev_hash);
    let event = RecordedEvent {
        position,
        event_id,
        stream_id,
        stream_version,
        event_type,
        schema_version,
        payload,
        metadata,
        recorded_at,
        prev_hash,
        hash,
    };
    Ok((event, false))
}
