//! The event envelope and the newtypes it is made of.
//!
//! Everything the log stores passes through these types, and each of them can
//! only hold a valid value ("parse, don't validate"): a [`StreamId`] is never
//! empty, a [`JsonObject`] is always a JSON object already in canonical form, a
//! [`Hash`] is always 32 bytes. Backends and the HTTP layer therefore never
//! re-check what the type already guarantees.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use uuid::Uuid;

/// Longest stream id we accept, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 256;
/// Longest event type we accept, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 128;

/// Why a value could not become one of the envelope's newtypes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    #[error("stream id must not be empty")]
    EmptyStreamId,
    #[error("stream id is longer than {MAX_STREAM_ID_LEN} bytes")]
    StreamIdTooLong,
    #[error("stream id must not contain control characters or whitespace")]
    StreamIdCharacters,
    #[error("event type must not be empty")]
    EmptyEventType,
    #[error("event type is longer than {MAX_EVENT_TYPE_LEN} bytes")]
    EventTypeTooLong,
    #[error("event type may only contain ASCII letters, digits, '.', '_', ':' and '-'")]
    EventTypeCharacters,
    #[error("{field} must be a JSON object")]
    NotAnObject { field: &'static str },
    #[error("{field} is not valid JSON: {reason}")]
    InvalidJson { field: &'static str, reason: String },
    #[error("hash must be 64 lowercase hex digits")]
    InvalidHash,
    /// A number the canonical form would change (`crate::json_numbers`).
    #[error("{field}.{number}")]
    InexactNumber {
        field: &'static str,
        number: crate::json_numbers::InexactNumber,
    },
}

/// The id of a stream, e.g. `user-0190f6c1-…`. Its *category* is the part
/// before the first `-` (the whole id when there is none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    pub fn parse(value: impl Into<String>) -> Result<Self, EnvelopeError> {
        let value = value.into();
        if value.is_empty() {
            return Err(EnvelopeError::EmptyStreamId);
        }
        if value.len() > MAX_STREAM_ID_LEN {
            return Err(EnvelopeError::StreamIdTooLong);
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(EnvelopeError::StreamIdCharacters);
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the first `-`.
    pub fn category(&self) -> &str {
        category_of(&self.0)
    }
}

/// The category of a stream id: the part before the first `-`.
pub fn category_of(stream_id: &str) -> &str {
    stream_id.split('-').next().unwrap_or(stream_id)
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The type of an event, e.g. `user.invited`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(String);

impl EventType {
    pub fn parse(value: impl Into<String>) -> Result<Self, EnvelopeError> {
        let value = value.into();
        if value.is_empty() {
            return Err(EnvelopeError::EmptyEventType);
        }
        if value.len() > MAX_EVENT_TYPE_LEN {
            return Err(EnvelopeError::EventTypeTooLong);
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return Err(EnvelopeError::EventTypeCharacters);
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether serde_json writes `value` exactly as RFC 8785 does: its maps are
/// ordered by the keys' bytes, which is RFC 8785's UTF-16 order when every
/// key is ASCII; its strings are escaped alike (`\"`, `\\`, `\b \f \n \r
/// \t`, other control characters as lowercase `\u00xx`, nothing else); and
/// integers up to 2^53 are printed alike (RFC 8785 prints every number as
/// the shortest form of its IEEE double, which other numbers need).
fn writes_canonically(value: &serde_json::Value) -> bool {
    const EXACT: u64 = 1 << 53;
    match value {
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::String(_) => true,
        serde_json::Value::Number(n) => {
            n.as_u64().is_some_and(|u| u <= EXACT)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() <= EXACT)
        }
        serde_json::Value::Array(items) => items.iter().all(writes_canonically),
        serde_json::Value::Object(map) => map
            .iter()
            .all(|(key, item)| key.is_ascii() && writes_canonically(item)),
    }
}

/// A JSON object held in its canonical text (RFC 8785, JSON Canonicalization
/// Scheme). The canonical text is what is stored and what is hashed, so the
/// same content always has the same bytes, whatever key order or whitespace
/// the producer used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonObject(String);

impl JsonObject {
    /// Canonicalizes a value; `field` names it in the error.
    pub fn from_value(
        field: &'static str,
        value: &serde_json::Value,
    ) -> Result<Self, EnvelopeError> {
        if !value.is_object() {
            return Err(EnvelopeError::NotAnObject { field });
        }
        if writes_canonically(value) {
            // serde_json's own writer gives the same text, many times
            // faster (every event a command reads is opened and written
            // back to text: this was a fifth of a busy server's CPU).
            return serde_json::to_string(value).map(Self).map_err(|e| {
                EnvelopeError::InvalidJson {
                    field,
                    reason: e.to_string(),
                }
            });
        }
        if let Some(number) = crate::json_numbers::first_inexact_in_value(value, &mut String::new())
        {
            return Err(EnvelopeError::InexactNumber { field, number });
        }
        serde_json_canonicalizer::to_string(value)
            .map(Self)
            .map_err(|e| EnvelopeError::InvalidJson {
                field,
                reason: e.to_string(),
            })
    }

    /// Parses JSON text and canonicalizes it; a number the canonical form
    /// would change is refused (`crate::json_numbers`).
    pub fn parse(field: &'static str, text: &str) -> Result<Self, EnvelopeError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| EnvelopeError::InvalidJson {
                field,
                reason: e.to_string(),
            })?;
        if let Some(number) = crate::json_numbers::first_inexact(text, &value, "") {
            return Err(EnvelopeError::InexactNumber { field, number });
        }
        Self::from_value(field, &value)
    }

    /// An empty object, `{}`.
    pub fn empty() -> Self {
        Self("{}".to_owned())
    }

    /// Wraps text read back from a store, which only ever holds canonical
    /// text written by [`JsonObject::from_value`]. Not re-canonicalized: the
    /// hash chain is what proves the stored bytes are the ones written.
    pub(crate) fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }

    /// Size of the canonical text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0 == "{}"
    }
}

impl Serialize for JsonObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::value::RawValue::from_string(self.0.clone()) {
            Ok(raw) => raw.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_value("value", &value).map_err(serde::de::Error::custom)
    }
}

/// A SHA-256 digest in the hash chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The `prev_hash` of the first event: 32 zero bytes.
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn from_slice(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| EnvelopeError::InvalidHash)
    }

    pub fn from_hex(text: &str) -> Result<Self, EnvelopeError> {
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(EnvelopeError::InvalidHash);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|_| EnvelopeError::InvalidHash)?;
        Ok(Hash(out))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A timestamp as the log keeps it: UTC, truncated to whole microseconds.
pub fn to_log_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Formats a log timestamp the way exports write it:
/// `2026-11-25T10:56:30.123456Z` (always six fractional digits).
pub mod log_time_format {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| super::to_log_time(t.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }

    /// The same format for an optional timestamp (`null` when absent).
    pub mod option {
        use chrono::{DateTime, SecondsFormat, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true)),
                None => s.serialize_none(),
            }
        }
    }
}

/// An event to append: what the caller decides. Position, version, time and
/// hashes are assigned by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Chosen by the caller (UUID v7) so that a retried append is recognised.
    pub event_id: Uuid,
    pub event_type: EventType,
    pub schema_version: u32,
    pub payload: JsonObject,
    pub metadata: JsonObject,
}

impl NewEvent {
    /// A new event with a fresh UUID v7, schema version 1 and empty metadata.
    pub fn new(event_type: EventType, payload: JsonObject) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type,
            schema_version: 1,
            payload,
            metadata: JsonObject::empty(),
        }
    }

    pub fn with_metadata(mut self, metadata: JsonObject) -> Self {
        self.metadata = metadata;
        self
    }

    pub fn with_schema_version(mut self, schema_version: u32) -> Self {
        self.schema_version = schema_version;
        self
    }
}

/// A stored event: the full envelope. Field names are those of the export
/// format (see schema/LOG_FORMAT.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedEvent {
    pub position: u64,
    pub event_id: Uuid,
    #[serde(with = "stream_id_serde")]
    pub stream_id: StreamId,
    pub stream_version: u64,
    #[serde(with = "event_type_serde")]
    pub event_type: EventType,
    pub schema_version: u32,
    pub payload: JsonObject,
    pub metadata: JsonObject,
    #[serde(with = "log_time_format")]
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl RecordedEvent {
    /// True when `new` carries exactly this event's caller-chosen content, so
    /// a retried append of it can be answered with the original result.
    pub fn same_content(&self, stream_id: &StreamId, new: &NewEvent) -> bool {
        &self.stream_id == stream_id
            && self.event_id == new.event_id
            && self.event_type == new.event_type
            && self.schema_version == new.schema_version
            && self.payload == new.payload
            && self.metadata == new.metadata
    }
}

pub(crate) mod stream_id_serde {
    use super::StreamId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &StreamId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StreamId, D::Error> {
        StreamId::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod event_type_serde {
    use super::EventType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &EventType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EventType, D::Error> {
        EventType::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fast_writer_gives_the_canonical_text_wherever_it_is_used() {
        use serde_json::json;
        let mut strings: Vec<String> = (0u32..0x80)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        strings.extend(
            [
                "\u{7f}",
                "\u{80}",
                "é",
                "\u{2028}\u{2029}",
                "😀",
                "\u{feff}",
                "\\\"/",
                "",
            ]
            .map(str::to_owned),
        );
        let mut values = vec![
            json!({}),
            json!({"b": 1, "a": [1, -1, 0, 9007199254740992_u64, -9007199254740992_i64, null, true]}),
            json!({"z": {"y": {"x": []}}, "A": "B", "_": "-", "~": "~", "1": 1}),
        ];
        for s in &strings {
            values.push(json!({ "k": s, "n": { "list": [s, s] } }));
        }
        for value in &values {
            assert!(super::writes_canonically(value), "{value}");
            assert_eq!(
                serde_json::to_string(value).unwrap(),
                serde_json_canonicalizer::to_string(value).unwrap(),
                "{value}"
            );
        }
        // What it does not take goes to the canonicalizer.
        for value in [
            json!({"é": 1}),
            json!({"k": 1.5}),
            json!({"k": 9007199254740993_u64}),
            json!({"k": [{"😀": 0}]}),
        ] {
            assert!(!super::writes_canonically(&value), "{value}");
        }
        let float = super::JsonObject::from_value("payload", &json!({"k": 1e21})).unwrap();
        assert_eq!(float.as_str(), "{\"k\":1e+21}");
    }

    use super::*;

    #[test]
    fn stream_ids_parse_and_know_their_category() {
        let id = StreamId::parse("user-0190f6c1").unwrap();
        assert_eq!(id.category(), "user");
        assert_eq!(StreamId::parse("plain").unwrap().category(), "plain");
        assert_eq!(StreamId::parse(""), Err(EnvelopeError::EmptyStreamId));
        assert_eq!(
            StreamId::parse("a b"),
            Err(EnvelopeError::StreamIdCharacters)
        );
        assert_eq!(
            StreamId::parse("x".repeat(MAX_STREAM_ID_LEN + 1)),
            Err(EnvelopeError::StreamIdTooLong)
        );
    }

    #[test]
    fn event_types_are_restricted() {
        assert!(EventType::parse("user.invited").is_ok());
        assert_eq!(EventType::parse(""), Err(EnvelopeError::EmptyEventType));
        assert_eq!(
            EventType::parse("user invited"),
            Err(EnvelopeError::EventTypeCharacters)
        );
    }

    #[test]
    fn json_objects_are_canonical() {
        let a = JsonObject::parse("payload", r#"{ "b": 1, "a": [true, null] }"#).unwrap();
        assert_eq!(a.as_str(), r#"{"a":[true,null],"b":1}"#);
        assert_eq!(
            JsonObject::parse("payload", "[1]"),
            Err(EnvelopeError::NotAnObject { field: "payload" })
        );
        assert!(matches!(
            JsonObject::parse("payload", "{"),
            Err(EnvelopeError::InvalidJson { .. })
        ));
    }

    #[test]
    fn hashes_round_trip_through_lowercase_hex() {
        let h = Hash([0xab; 32]);
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex(&h.to_hex().to_uppercase()).is_err());
        assert!(Hash::from_hex("abc").is_err());
    }
}
