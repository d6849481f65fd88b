//! The hash chain: the canonical bytes of an envelope and how each event's
//! hash covers its predecessor.
//!
//! This is the one place that defines what a hash means, so that `append`,
//! `import` and `verify` cannot drift apart, and so that schema/LOG_FORMAT.md can
//! describe it byte for byte for an auditor who re-implements `verify`.
//!
//! ```text
//! hash = SHA-256(prev_hash ‖ canonical(envelope))
//! canonical(envelope) =
//!     "portal-ledger/event/v1"                    (22 ASCII bytes, no length)
//!     u64 position                                 (big-endian)
//!     event_id                                     (16 bytes, RFC 4122 order)
//!     u32 len ‖ stream_id                          (UTF-8)
//!     u64 stream_version
//!     u32 len ‖ event_type                         (UTF-8)
//!     u32 schema_version
//!     u32 len ‖ payload                            (RFC 8785 canonical JSON, UTF-8)
//!     u32 len ‖ metadata                           (RFC 8785 canonical JSON, UTF-8)
//!     i64 recorded_at                              (microseconds since 1970-01-01T00:00:00Z)
//! ```

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::event::{EventType, Hash, JsonObject, RecordedEvent, StreamId};

/// Domain-separation tag that starts every envelope's canonical bytes.
pub const ENVELOPE_TAG: &[u8] = b"portal-ledger/event/v1";

/// The fields of an envelope that the hash covers, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct HashedFields<'a> {
    pub position: u64,
    pub event_id: Uuid,
    pub stream_id: &'a StreamId,
    pub stream_version: u64,
    pub event_type: &'a EventType,
    pub schema_version: u32,
    pub payload: &'a JsonObject,
    pub metadata: &'a JsonObject,
    pub recorded_at: DateTime<Utc>,
}

impl<'a> HashedFields<'a> {
    pub fn of(event: &'a RecordedEvent) -> Self {
        Self {
            position: event.position,
            event_id: event.event_id,
            stream_id: &event.stream_id,
            stream_version: event.stream_version,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            payload: &event.payload,
            metadata: &event.metadata,
            recorded_at: event.recorded_at,
        }
    }

    /// The canonical bytes described in the module documentation.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            ENVELOPE_TAG.len()
                + 8
                + 16
                + 4
                + self.stream_id.as_str().len()
                + 8
                + 4
                + self.event_type.as_str().len()
                + 4
                + 4
                + self.payload.len()
                + 4
                + self.metadata.len()
                + 8,
        );
        out.extend_from_slice(ENVELOPE_TAG);
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(self.event_id.as_bytes());
        push_text(&mut out, self.stream_id.as_str());
        out.extend_from_slice(&self.stream_version.to_be_bytes());
        push_text(&mut out, self.event_type.as_str());
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        push_text(&mut out, self.payload.as_str());
        push_text(&mut out, self.metadata.as_str());
        out.extend_from_slice(&self.recorded_at.timestamp_micros().to_be_bytes());
        out
    }

    /// `SHA-256(prev_hash ‖ canonical bytes)`.
    pub fn chained_hash(&self, prev_hash: &Hash) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(prev_hash.0);
        hasher.update(self.canonical_bytes());
        Hash(hasher.finalize().into())
    }
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    // Lengths are bounded far below u32::MAX by the append limits (1 MiB).
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Recomputes the hash a stored event should carry, given its `prev_hash`.
pub fn expected_hash(event: &RecordedEvent) -> Hash {
    HashedFields::of(event).chained_hash(&event.prev_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> RecordedEvent {
        let mut e = RecordedEvent {
            position: 1,
            event_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            stream_id: StreamId::parse("user-1").unwrap(),
            stream_version: 1,
            event_type: EventType::parse("user.invited").unwrap(),
            schema_version: 1,
            payload: JsonObject::parse("payload", r#"{"email":"a@example.com"}"#).unwrap(),
            metadata: JsonObject::empty(),
            recorded_at: Utc.timestamp_micros(1_700_000_000_123_456).unwrap(),
            prev_hash: Hash::ZERO,
            hash: Hash::ZERO,
        };
        e.hash = expected_hash(&e);
        e
    }

    #[test]
    fn canonical_bytes_have_the_documented_layout() {
        let e = sample();
        let bytes = HashedFields::of(&e).canonical_bytes();
        assert!(bytes.starts_with(ENVELOPE_TAG));
        let rest = &bytes[ENVELOPE_TAG.len()..];
        assert_eq!(&rest[..8], &1u64.to_be_bytes());
        assert_eq!(&rest[8..24], e.event_id.as_bytes());
        assert_eq!(&rest[24..28], &6u32.to_be_bytes());
        assert_eq!(&rest[28..34], b"user-1");
        assert_eq!(
            &bytes[bytes.len() - 8..],
            &1_700_000_000_123_456i64.to_be_bytes()
        );
    }

    #[test]
    fn every_hashed_field_changes_the_hash() {
        let e = sample();
        let base = expected_hash(&e);
        let mut changed = e.clone();
        changed.position = 2;
        assert_ne!(expected_hash(&changed), base);
        let mut changed = e.clone();
        changed.stream_version = 2;
        assert_ne!(expected_hash(&changed), base);
        let mut changed = e.clone();
        changed.payload = JsonObject::parse("payload", r#"{"email":"b@example.com"}"#).unwrap();
        assert_ne!(expected_hash(&changed), base);
        let mut changed = e.clone();
        changed.recorded_at += chrono::Duration::microseconds(1);
        assert_ne!(expected_hash(&changed), base);
        let mut changed = e;
        changed.prev_hash = Hash([1; 32]);
        assert_ne!(expected_hash(&changed), base);
    }

    #[test]
    fn the_hash_is_a_known_vector() {
        // Pinned so that a change to the encoding cannot go unnoticed: an
        // auditor's re-implementation is checked against this same vector in
        // schema/LOG_FORMAT.md.
        let e = sample();
        assert_eq!(e.hash.to_hex(), KNOWN_VECTOR);
    }

    const KNOWN_VECTOR: &str = "fb2fdc3134e053482428b3f1f827790c30e0ef17384c67c824ed8127cdbaaafa";
}
