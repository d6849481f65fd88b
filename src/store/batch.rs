//! Group commit, decided without I/O.
//!
//! A backend's writer collects the appends that arrived while it was busy,
//! locks the log, reads the head, the current versions of the streams
//! involved and any already stored events with the same ids, and hands all
//! of it to [`plan`]. `plan` decides each append in arrival order exactly as
//! if they had been committed one by one — retries answered from what is
//! stored, expectations checked against versions that include the earlier
//! appends of the same batch — and returns the rows to insert, already
//! numbered and hashed. The backend inserts them in one transaction.
//!
//! Keeping this pure is what lets both backends share it and lets it be
//! tested exhaustively without a database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::chain::HashedFields;
use crate::event::{to_log_time, RecordedEvent, StreamId};
use crate::store::append::{AppendOutcome, AppendedStream, StreamAppend};
use crate::store::{Head, StoreError};

/// What the writer read from the store, under its lock, for one batch.
#[derive(Debug, Default)]
pub struct BatchContext {
    pub head: Head,
    /// Current version of every stream named in the batch (0 when absent;
    /// a missing entry also means 0).
    pub versions: HashMap<StreamId, u64>,
    /// Already stored events whose ids appear in the batch.
    pub existing: HashMap<Uuid, RecordedEvent>,
}

/// The decision for one batch.
#[derive(Debug)]
pub struct BatchPlan {
    /// Rows to insert, in position order.
    pub rows: Vec<RecordedEvent>,
    /// One result per append, in the order given.
    pub results: Vec<Result<AppendOutcome, StoreError>>,
}

impl BatchPlan {
    /// The head after the rows are committed.
    pub fn new_head(&self, before: Head) -> Head {
        match self.rows.last() {
            Some(last) => Head {
                position: last.position,
                hash: last.hash,
                recorded_at: Some(last.recorded_at),
            },
            None => before,
        }
    }
}

/// The streams and event ids a batch touches: what the writer must look up.
pub fn lookups(appends: &[&[StreamAppend]]) -> (Vec<StreamId>, Vec<Uuid>) {
    let mut streams = Vec::new();
    let mut ids = Vec::new();
    for append in appends {
        for stream in append.iter() {
            streams.push(stream.stream_id.clone());
            ids.extend(stream.events.iter().map(|e| e.event_id));
        }
    }
    streams.sort();
    streams.dedup();
    (streams, ids)
}

/// Decides a batch. `now` is the writer's clock; recorded times never go
/// below the head's, so they never decrease along positions.
pub fn plan(context: BatchContext, appends: &[&[StreamAppend]], now: DateTime<Utc>) -> BatchPlan {
    let BatchContext {
        head,
        mut versions,
        existing,
    } = context;
    let mut rows: Vec<RecordedEvent> = Vec::new();
    let mut planned_by_id: HashMap<Uuid, usize> = HashMap::new();
    let mut position = head.position;
    let mut prev_hash = head.hash;
    let recorded_at = match head.recorded_at {
        Some(last) if last > now => last,
        _ => to_log_time(now),
    };

    let results = appends
        .iter()
        .map(|append| {
            let find = |id: &Uuid| {
                existing
                    .get(id)
                    .or_else(|| planned_by_id.get(id).map(|&i| &rows[i]))
            };
            if let Some(replayed) = replay(append, find) {
                return replayed;
            }
            for stream in append.iter() {
                let actual = versions.get(&stream.stream_id).copied().unwrap_or(0);
                if !stream.expected.admits(actual) {
                    return Err(StoreError::WrongExpectedVersion {
                        stream: stream.stream_id.clone(),
                        expected: stream.expected,
                        actual,
                    });
                }
            }
            let mut outcome = AppendOutcome {
                positions: Vec::new(),
                streams: Vec::with_capacity(append.len()),
            };
            for stream in append.iter() {
                let version = versions.entry(stream.stream_id.clone()).or_insert(0);
                for event in &stream.events {
                    position += 1;
                    *version += 1;
                    let fields = HashedFields {
                        position,
                        event_id: event.event_id,
                        stream_id: &stream.stream_id,
                        stream_version: *version,
                        event_type: &event.event_type,
                        schema_version: event.schema_version,
                        payload: &event.payload,
                        metadata: &event.metadata,
                        recorded_at,
                    };
                    let hash = fields.chained_hash(&prev_hash);
                    planned_by_id.insert(event.event_id, rows.len());
                    rows.push(RecordedEvent {
                        position,
                        event_id: event.event_id,
                        stream_id: stream.stream_id.clone(),
                        stream_version: *version,
                        event_type: event.event_type.clone(),
                        schema_version: event.schema_version,
                        payload: event.payload.clone(),
                        metadata: event.metadata.clone(),
                        recorded_at,
                        prev_hash,
                        hash,
                    });
                    prev_hash = hash;
                    outcome.positions.push(position);
                }
                outcome.streams.push(AppendedStream {
                    stream_id: stream.stream_id.to_string(),
                    version: *version,
                });
            }
            Ok(outcome)
        })
        .collect();

    BatchPlan { rows, results }
}

/// If any event of the append is stored already, the append is a retry: it
/// is answered from what is stored when every event matches, and refused
/// otherwise. `None` means none of its events is stored.
fn replay<'a>(
    append: &[StreamAppend],
    find: impl Fn(&Uuid) -> Option<&'a RecordedEvent>,
) -> Option<Result<AppendOutcome, StoreError>> {
    let mut any_found = false;
    let mut first_problem = None;
    let mut outcome = AppendOutcome {
        positions: Vec::new(),
        streams: Vec::with_capacity(append.len()),
    };
    for stream in append {
        let mut version = 0;
        for event in &stream.events {
            match find(&event.event_id) {
                Some(stored) => {
                    any_found = true;
                    if !stored.same_content(&stream.stream_id, event) {
                        first_problem.get_or_insert(event.event_id);
                    }
                    outcome.positions.push(stored.position);
                    version = version.max(stored.stream_version);
                }
                None => {
                    first_problem.get_or_insert(event.event_id);
                }
            }
        }
        outcome.streams.push(AppendedStream {
            stream_id: stream.stream_id.to_string(),
            version,
        });
    }
    if !any_found {
        return None;
    }
    Some(match first_problem {
        Some(event_id) => Err(StoreError::IdempotencyConflict { event_id }),
        None => Ok(outcome),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::expected_hash;
    use crate::event::{EventType, Hash, JsonObject, NewEvent};
    use crate::store::ExpectedVersion;

    fn event(n: u32) -> NewEvent {
        NewEvent::new(
            EventType::parse("thing.happened").unwrap(),
            JsonObject::from_value("payload", &serde_json::json!({ "n": n })).unwrap(),
        )
    }

    fn stream(name: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> StreamAppend {
        StreamAppend::new(StreamId::parse(name).unwrap(), expected, events)
    }

    fn decide(context: BatchContext, appends: &[Vec<StreamAppend>]) -> BatchPlan {
        let borrowed: Vec<&[StreamAppend]> = appends.iter().map(|a| a.as_slice()).collect();
        plan(context, &borrowed, Utc::now())
    }

    #[test]
    fn a_batch_numbers_and_chains_its_rows() {
        let appends = vec![
            vec![stream(
                "a-1",
                ExpectedVersion::NoStream,
                vec![event(1), event(2)],
            )],
            vec![
                stream("b-1", ExpectedVersion::Any, vec![event(3)]),
                stream("a-1", ExpectedVersion::Exact(2), vec![event(4)]),
            ],
        ];
        let plan = decide(BatchContext::default(), &appends);
        let positions: Vec<u64> = plan.rows.iter().map(|r| r.position).collect();
        assert_eq!(positions, vec![1, 2, 3, 4]);
        assert_eq!(plan.rows[0].prev_hash, Hash::ZERO);
        for pair in plan.rows.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
        }
        for row in &plan.rows {
            assert_eq!(row.hash, expected_hash(row));
        }
        assert_eq!(plan.rows[3].stream_version, 3);
        let second = plan.results[1].as_ref().unwrap();
        assert_eq!(second.positions, vec![3, 4]);
        assert_eq!(second.streams[1].version, 3);
    }

    #[test]
    fn a_failed_expectation_appends_nothing_of_that_append_only() {
        let appends = vec![
            vec![stream("a-1", ExpectedVersion::NoStream, vec![event(1)])],
            vec![
                stream("b-1", ExpectedVersion::NoStream, vec![event(2)]),
                stream("a-1", ExpectedVersion::NoStream, vec![event(3)]),
            ],
            vec![stream("c-1", ExpectedVersion::Exact(0), vec![event(4)])],
        ];
        let plan = decide(BatchContext::default(), &appends);
        assert_eq!(plan.rows.len(), 2);
        match &plan.results[1] {
            Err(StoreError::WrongExpectedVersion {
                stream,
                expected,
                actual,
            }) => {
                assert_eq!(stream.as_str(), "a-1");
                assert_eq!(*expected, ExpectedVersion::NoStream);
                assert_eq!(*actual, 1);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(plan.results[2].as_ref().unwrap().positions, vec![2]);
    }

    #[test]
    fn a_retry_in_the_same_batch_or_later_returns_the_original_result() {
        let original = vec![stream("a-1", ExpectedVersion::NoStream, vec![event(1)])];
        let plan1 = decide(
            BatchContext::default(),
            &[original.clone(), original.clone()],
        );
        assert_eq!(plan1.rows.len(), 1);
        assert_eq!(
            plan1.results[0].as_ref().unwrap(),
            plan1.results[1].as_ref().unwrap()
        );

        let stored = plan1.rows[0].clone();
        let head = plan1.new_head(Head::EMPTY);
        let context = BatchContext {
            head,
            versions: [(stored.stream_id.clone(), 1)].into_iter().collect(),
            existing: [(stored.event_id, stored)].into_iter().collect(),
        };
        let plan2 = decide(context, std::slice::from_ref(&original));
        assert!(plan2.rows.is_empty());
        assert_eq!(
            plan2.results[0].as_ref().unwrap(),
            plan1.results[0].as_ref().unwrap()
        );
    }

    #[test]
    fn a_reused_id_with_other_content_is_refused() {
        let first = event(1);
        let mut changed = first.clone();
        changed.payload = JsonObject::from_value("payload", &serde_json::json!({"n": 2})).unwrap();
        let appends = vec![
            vec![stream("a-1", ExpectedVersion::Any, vec![first.clone()])],
            vec![stream("a-1", ExpectedVersion::Any, vec![changed])],
            vec![stream("a-1", ExpectedVersion::Any, vec![first, event(3)])],
        ];
        let plan = decide(BatchContext::default(), &appends);
        assert_eq!(plan.rows.len(), 1);
        assert!(matches!(
            plan.results[1],
            Err(StoreError::IdempotencyConflict { .. })
        ));
        assert!(matches!(
            plan.results[2],
            Err(StoreError::IdempotencyConflict { .. })
        ));
    }

    #[test]
    fn recorded_time_never_goes_below_the_head() {
        let future = Utc::now() + chrono::Duration::hours(1);
        let context = BatchContext {
            head: Head {
                position: 7,
                hash: Hash([9; 32]),
                recorded_at: Some(to_log_time(future)),
            },
            ..BatchContext::default()
        };
        let plan = decide(
            context,
            &[vec![stream("a-1", ExpectedVersion::Any, vec![event(1)])]],
        );
        assert_eq!(plan.rows[0].position, 8);
        assert_eq!(plan.rows[0].prev_hash, Hash([9; 32]));
        assert_eq!(plan.rows[0].recorded_at, to_log_time(future));
    }
}
