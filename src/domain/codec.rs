//! Domain events to and from envelopes.
//!
//! Domain event enums are tagged with `type` (e.g. `user.created`); in the
//! log that tag is the envelope's `event_type` and the payload holds the
//! other fields, so it is not stored twice. The envelope's
//! `schema_version` is the payload's shape: encoding writes the current
//! one, decoding upgrades older ones first (`upcast.rs`).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::domain::upcast;
use crate::event::{EventType, JsonObject, NewEvent, RecordedEvent};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("event at position {position} ({event_type}) does not decode: {reason}")]
    Undecodable {
        position: u64,
        event_type: String,
        reason: String,
    },
    #[error("domain event does not encode: {0}")]
    Unencodable(String),
}

/// Turns a domain event into a new envelope with the given metadata.
pub fn encode<E: Serialize>(event: &E, metadata: &JsonObject) -> Result<NewEvent, CodecError> {
    let mut value =
        serde_json::to_value(event).map_err(|e| CodecError::Unencodable(e.to_string()))?;
    let event_type = value
        .as_object_mut()
        .and_then(|o| o.remove("type"))
        .and_then(|t| t.as_str().map(str::to_owned))
        .ok_or_else(|| CodecError::Unencodable("no type tag".into()))?;
    let event_type =
        EventType::parse(event_type).map_err(|e| CodecError::Unencodable(e.to_string()))?;
    let payload = JsonObject::from_value("payload", &value)
        .map_err(|e| CodecError::Unencodable(e.to_string()))?;
    let version = upcast::current_version(event_type.as_str());
    Ok(NewEvent::new(event_type, payload)
        .with_metadata(metadata.clone())
        .with_schema_version(version))
}

/// Reads a stored envelope back as a domain event: its payload upgraded
/// from the version it was stored at to the current one (`upcast.rs`),
/// then decoded.
pub fn decode<E: DeserializeOwned>(event: &RecordedEvent) -> Result<E, CodecError> {
    let undecodable = |reason: String| CodecError::Undecodable {
        position: event.position,
        event_type: event.event_type.to_string(),
        reason,
    };
    let mut value = upcast::upcast(
        event.event_type.as_str(),
        event.schema_version,
        event.payload.to_value(),
    )
    .map_err(|e| undecodable(e.to_string()))?;
    if let Value::Object(map) = &mut value {
        map.insert("type".into(), Value::String(event.event_type.to_string()));
    }
    serde_json::from_value(value).map_err(|e| undecodable(e.to_string()))
}

/// Like [`decode`] for a projector: `None` for an event type it does not
/// know (a type added later, or an imported legacy history), an error for a
/// known type that does not decode.
pub fn decode_known<E: DeserializeOwned>(
    event: &RecordedEvent,
    known: &[&str],
) -> Result<Option<E>, CodecError> {
    if known.contains(&event.event_type.as_str()) {
        decode(event).map(Some)
    } else {
        Ok(None)
    }
}
