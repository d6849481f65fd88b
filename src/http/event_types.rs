//! `GET /v1/event-types`: the catalog of every event type the log holds —
//! its current schema version, the activity action types it is recorded
//! under, what changed at each version, and a JSON Schema per version
//! (`domain::catalog`, generated from the Rust types) — and one version's
//! schema by itself.
//!
//! Why published: portal back ends and auditors read our events for years;
//! the catalog is what they code against, and `upcast.rs` is how old events
//! keep reading as the current shape.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::catalog::{catalog, EventTypeEntry};
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiPath};
use crate::http::schemas::ReadErrors;
use crate::integrity::checkpoint::{CheckpointPayload, EVENT_TYPE as CHECKPOINT};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventTypes {
    /// Every event type, by name.
    pub event_types: Vec<EventTypeEntry>,
}

/// The catalog, built once per process (it is a function of the code).
fn entries() -> &'static [EventTypeEntry] {
    static CATALOG: OnceLock<Vec<EventTypeEntry>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut entries = catalog();
        // Signed checkpoints are the integrity layer's, appended by the
        // service itself: no activity entry.
        let mut schemas = Map::new();
        schemas.insert(
            "1".into(),
            schemars::schema_for!(CheckpointPayload).to_value(),
        );
        entries.push(EventTypeEntry {
            event_type: CHECKPOINT.to_owned(),
            schema_version: 1,
            action_types: Vec::new(),
            changes: Vec::new(),
            schemas,
        });
        entries.sort_by(|a, b| a.event_type.cmp(&b.event_type));
        entries
    })
}

/// `GET /v1/event-types`
#[utoipa::path(get, path = "/v1/event-types", tag = "integrity",
    responses((status = 200, body = EventTypes), ReadErrors))]
pub async fn list(_caller: Caller) -> Json<EventTypes> {
    Json(EventTypes {
        event_types: entries().to_vec(),
    })
}

/// `GET /v1/event-types/{event_type}/schemas/{version}` — one version's
/// JSON Schema.
#[utoipa::path(get, path = "/v1/event-types/{event_type}/schemas/{version}", tag = "integrity",
    params(
        ("event_type" = String, Path, description = "e.g. `server.registered`"),
        ("version" = String, Path, description = "a schema version, from 1"),
    ),
    responses((status = 200, body = Object), ReadErrors))]
pub async fn schema(
    _caller: Caller,
    ApiPath((event_type, version)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let version: u32 = version.parse().ok().filter(|v| *v >= 1).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_schema_version",
            "a schema version is a whole number from 1",
        )
    })?;
    let entry = entries()
        .iter()
        .find(|e| e.event_type == event_type)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_event_type",
                format!("no event type {event_type:?} (GET /v1/event-types lists them)"),
            )
        })?;
    entry
        .schemas
        .get(&version.to_string())
        .cloned()
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_schema_version",
                format!(
                    "{event_type} has schema versions 1 to {}",
                    entry.schema_version
                ),
            )
        })
}
