//! Crypto-shredding: personal data in an append-only log that can still be
//! erased.
//!
//! Why: the log is immutable and hash-chained — nothing may rewrite it — yet
//! after the retention period a purged user's personal data must become
//! unreadable. So personal fields (e-mail addresses, names, IP addresses,
//! user agents, descriptions that name a person; the list is
//! [`fields`]) are stored *sealed*: encrypted with the key of their subject
//! (a user or an invitation, [`subject`]), and the keys live outside the log
//! in `personal_keys` ([`keys`]). A purge destroys the keys: the ciphertext
//! stays, `verify` still passes (the chain covers the sealed bytes), and every
//! reader sees a placeholder instead of the data.
//!
//! Where: sealing happens at one place, just before the ledger appends, and
//! opening at two — when the ledger reads a stream and when the projection
//! runner reads a page. Domain code and projectors only ever see text.
//! Exports carry the sealed form: an export handed to an auditor holds no
//! personal data in clear, and a purge reaches into every copy of it.
//!
//! Keys are cached in memory once read (a purge in this process evicts
//! them), and so are the opened, decoded events of the streams commands
//! fold (`app::stream_cache`; a purge here moves [`PersonalData::generation`]
//! and they are read again). Another process that already read a key can
//! keep opening that subject's fields until it restarts; purges run in the
//! service process.

pub mod cipher;
pub mod envelope;
pub mod fields;
pub mod keys;
pub mod subject;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use thiserror::Error;

use crate::event::RecordedEvent;
use crate::privacy::cipher::{CipherError, SubjectKey};
use crate::privacy::envelope::Parts;
use crate::privacy::keys::{KeyState, SharedKeys};
use crate::privacy::subject::Subject;
use crate::store::{StoreError, StreamAppend};

/// Most keys kept in memory; the cache starts over beyond it.
const CACHE_LIMIT: usize = 200_000;

#[derive(Debug, Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Keys(#[from] StoreError),
    #[error("personal data cannot be sealed: {0}")]
    Seal(#[from] CipherError),
    #[error("event at position {position}: sealed field {field} does not open: {source}")]
    Altered {
        position: u64,
        field: String,
        source: CipherError,
    },
    #[error("event {0}: {1}")]
    Envelope(uuid::Uuid, String),
}

/// Seals and opens personal fields with the subjects' keys.
pub struct PersonalData {
    keys: SharedKeys,
    cache: Mutex<HashMap<Subject, SubjectKey>>,
    /// Moves on every erasure here: what was opened before must be opened
    /// again (see `app::stream_cache`).
    generation: AtomicU64,
}

pub type SharedPersonalData = Arc<PersonalData>;

impl PersonalData {
    pub fn new(keys: SharedKeys) -> SharedPersonalData {
        Arc::new(Self {
            keys,
            cache: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        })
    }

    /// How many erasures this process has made: anything opened under an
    /// older generation may hold data whose key is now destroyed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn cached(&self, subjects: &BTreeSet<Subject>) -> (HashMap<Subject, SubjectKey>, Vec<Subject>) {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        let cache = self.cache.lock().ok();
        for subject in subjects {
            match cache.as_ref().and_then(|c| c.get(subject)) {
                Some(key) => {
                    found.insert(subject.clone(), key.clone());
                }
                None => missing.push(subject.clone()),
            }
        }
        (found, missing)
    }

    fn remember(&self, keys: &HashMap<Subject, KeyState>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() + keys.len() > CACHE_LIMIT {
                cache.clear();
            }
            for (subject, state) in keys {
                if let KeyState::Live(key) = state {
                    cache.insert(subject.clone(), key.clone());
                }
            }
        }
    }

    /// Seals the personal fields of every event about to be appended,
    /// creating keys for new subjects first (durably, so nothing appended
    /// is ever sealed under a key that was not stored).
    pub async fn seal(&self, appends: &mut [StreamAppend]) -> Result<(), PrivacyError> {
        let mut parts = Vec::new();
        let mut subjects = BTreeSet::new();
        for append in appends.iter() {
            for event in &append.events {
                let p = Parts::new(&event.payload, &event.metadata);
                subjects.extend(envelope::subjects_to_seal(
                    event.event_type.as_str(),
                    append.stream_id.as_str(),
                    &p,
                ));
                parts.push(p);
            }
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let (cached, missing) = self.cached(&subjects);
        let mut keys: HashMap<Subject, KeyState> = cached
            .into_iter()
            .map(|(s, k)| (s, KeyState::Live(k)))
            .collect();
        if !missing.is_empty() {
            let created = self.keys.get_or_create(&missing, Utc::now()).await?;
            self.remember(&created);
            keys.extend(created);
        }
        let mut parts = parts.into_iter();
        for append in appends.iter_mut() {
            let stream = append.stream_id.as_str().to_owned();
            for event in &mut append.events {
                let Some(mut p) = parts.next() else { break };
                if envelope::seal(
                    event.event_id,
                    event.event_type.as_str(),
                    &stream,
                    &mut p,
                    &keys,
                )? {
                    let (payload, metadata) = p
                        .into_objects()
                        .map_err(|e| PrivacyError::Envelope(event.event_id, e))?;
                    event.payload = payload;
                    event.metadata = metadata;
                }
            }
        }
        Ok(())
    }

    /// Opens the sealed fields of events read from the log (in place).
    /// The events keep their stored hashes: opened events are for reading
    /// only, never for verifying or exporting.
    pub async fn open(&self, events: &mut [RecordedEvent]) -> Result<(), PrivacyError> {
        let mut opened: Vec<(usize, Parts)> = Vec::new();
        let mut subjects = BTreeSet::new();
        for (i, event) in events.iter().enumerate() {
            if !may_hold_sealed(event) {
                continue;
            }
            let p = Parts::new(&event.payload, &event.metadata);
            let named = envelope::subjects_to_open(event.event_type.as_str(), &p);
            if !named.is_empty() {
                subjects.extend(named);
                opened.push((i, p));
            }
        }
        if opened.is_empty() {
            return Ok(());
        }
        let (mut keys, missing) = self.cached(&subjects);
        if !missing.is_empty() {
            let found = self.keys.get(&missing).await?;
            self.remember(&found);
            keys.extend(found.into_iter().filter_map(|(s, k)| match k {
                KeyState::Live(key) => Some((s, key)),
                KeyState::Destroyed => None,
            }));
        }
        for (i, mut p) in opened {
            let event = &mut events[i];
            envelope::open(event.event_id, event.event_type.as_str(), &mut p, &keys).map_err(
                |(field, source)| PrivacyError::Altered {
                    position: event.position,
                    field,
                    source,
                },
            )?;
            let (payload, metadata) = p
                .into_objects()
                .map_err(|e| PrivacyError::Envelope(event.event_id, e))?;
            event.payload = payload;
            event.metadata = metadata;
        }
        Ok(())
    }

    /// Destroys the subjects' keys: their sealed fields become unreadable
    /// everywhere, for good.
    pub async fn erase(&self, subjects: &[Subject]) -> Result<(), PrivacyError> {
        if let Ok(mut cache) = self.cache.lock() {
            for subject in subjects {
                cache.remove(subject);
            }
        }
        // Before and after: a fold that began before the erasure never
        // keeps what it opened under the new generation.
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.keys.destroy(subjects, Utc::now()).await?;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A cheap pre-check: only an envelope whose text contains a sealed value
/// is parsed.
fn may_hold_sealed(event: &RecordedEvent) -> bool {
    event.payload.as_str().contains("\"sealed\"") || event.metadata.as_str().contains("\"sealed\"")
}
