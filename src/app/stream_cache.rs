//! The decoded events of the streams commands fold, kept between commands.
//!
//! Why: a command folds the streams it decides on (a server, its account,
//! the acting user) from their first event, and every event read means a
//! row fetched, its personal data opened and its JSON decoded twice. On a
//! busy portal that was half of the server's CPU — a server's stream holds
//! every action ever taken on it. A stream only grows (the log never
//! changes or removes an event), so the events already decoded stay true:
//! a fold reads only what was appended after them (usually nothing or the
//! one event the previous command added) and folds the rest from here.
//!
//! Personal data: what is kept was opened with the subjects' keys. An
//! erasure in this process moves [`PersonalData::generation`], and entries
//! from an older generation are never used (they are read again, and the
//! destroyed keys leave placeholders). Another process's erasure is seen
//! on restart, as for the key cache (see [`crate::privacy`]).
//!
//! Memory: at most [`CACHED_EVENTS`] decoded events in all; beyond that the
//! cache starts over (a decoded event is a few hundred bytes).
//!
//! [`PersonalData::generation`]: crate::privacy::PersonalData::generation

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::app::context::EventRef;

/// Most decoded events kept in all.
pub const CACHED_EVENTS: usize = 100_000;

/// One event of a stream, decoded as its stream's event type.
#[derive(Debug, Clone)]
pub(crate) struct Decoded<E> {
    pub event: E,
    pub at: EventRef,
    pub recorded_at: DateTime<Utc>,
}

/// A stream's decoded events, from its first.
pub(crate) type DecodedStream<E> = Arc<Vec<Decoded<E>>>;

struct Entry {
    generation: u64,
    len: usize,
    events: Arc<dyn Any + Send + Sync>,
}

/// Decoded streams by stream name and event type.
#[derive(Default)]
pub(crate) struct StreamCache {
    entries: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    streams: HashMap<(String, TypeId), Entry>,
    events: usize,
}

impl StreamCache {
    /// The stream's decoded events, if kept from personal-data `generation`.
    pub fn get<E: Send + Sync + 'static>(
        &self,
        stream: &str,
        generation: u64,
    ) -> Option<DecodedStream<E>> {
        let cache = self.entries.lock().ok()?;
        let entry = cache.streams.get(&(stream.to_owned(), TypeId::of::<E>()))?;
        if entry.generation != generation {
            return None;
        }
        entry.events.clone().downcast::<Vec<Decoded<E>>>().ok()
    }

    /// Keeps the stream's decoded events (all of them, from its first).
    pub fn put<E: Send + Sync + 'static>(
        &self,
        stream: &str,
        generation: u64,
        events: DecodedStream<E>,
    ) {
        let Ok(mut cache) = self.entries.lock() else {
            return;
        };
        let len = events.len();
        if len > CACHED_EVENTS {
            return;
        }
        let previous = cache.streams.insert(
            (stream.to_owned(), TypeId::of::<E>()),
            Entry {
                generation,
                len,
                events,
            },
        );
        cache.events = cache.events - previous.map_or(0, |e| e.len) + len;
        if cache.events > CACHED_EVENTS {
            cache.streams.clear();
            cache.events = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(n: u64) -> Decoded<String> {
        Decoded {
            event: format!("event {n}"),
            at: EventRef {
                position: n,
                event_id: uuid::Uuid::nil(),
            },
            recorded_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn entries_serve_their_own_type_and_generation_only() {
        let cache = StreamCache::default();
        cache.put("server-1", 3, Arc::new(vec![decoded(1), decoded(2)]));
        assert_eq!(cache.get::<String>("server-1", 3).map(|s| s.len()), Some(2));
        assert!(cache.get::<String>("server-1", 4).is_none());
        assert!(cache.get::<u64>("server-1", 3).is_none());
        assert!(cache.get::<String>("server-2", 3).is_none());
    }

    #[test]
    fn the_cache_starts_over_beyond_its_bound() {
        let cache = StreamCache::default();
        let half: Vec<_> = (0..CACHED_EVENTS as u64 / 2 + 1).map(decoded).collect();
        cache.put("a", 0, Arc::new(half.clone()));
        // Replacing a stream counts its events once.
        cache.put("a", 0, Arc::new(half.clone()));
        assert!(cache.get::<String>("a", 0).is_some());
        cache.put("b", 0, Arc::new(half));
        assert!(cache.get::<String>("a", 0).is_none());
        assert!(cache.get::<String>("b", 0).is_none());
    }
}
