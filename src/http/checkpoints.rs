//! `/v1/checkpoints`: the public key that signs checkpoints, and the
//! checkpoints themselves — what an auditor needs to check an export
//! offline. Public on purpose: a public key and signed heads reveal nothing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use crate::http::error::{ApiError, ApiQuery};
use crate::http::paging::{fingerprint, Key, Keyset, PageRequest};
use crate::http::reads::{caught_up, ReadAfter};
use crate::http::reads::{page_of, ListQuery};
use crate::http::schemas::ReadErrors;
use crate::http::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointKey {
    /// Always `ed25519`.
    pub algorithm: &'static str,
    /// The 32-byte public key, hex.
    pub public_key: String,
    /// First 16 hex digits of the SHA-256 of the key (in every checkpoint).
    pub key_id: String,
}

/// `GET /v1/checkpoints/public-key` — the key that signs checkpoints (404
/// `no_signing_key` when the service runs without one).
#[utoipa::path(
    get,
    path = "/v1/checkpoints/public-key",
    tag = "integrity",
    responses((status = 200, body = CheckpointKey), ReadErrors),
    security(()),
)]
pub async fn public_key(State(state): State<AppState>) -> Result<Json<CheckpointKey>, ApiError> {
    let key = state.checkpoint_key.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_signing_key",
            "this service signs no checkpoints (start it with a signing key)",
        )
    })?;
    Ok(Json(CheckpointKey {
        algorithm: "ed25519",
        public_key: key.to_hex(),
        key_id: key.key_id(),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointsPage {
    /// Rows of `proj_checkpoints`, newest first.
    #[schema(value_type = Vec<Object>)]
    pub checkpoints: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /v1/checkpoints` — signed checkpoints, newest first (the first is
/// the one to pin).
#[utoipa::path(
    get,
    path = "/v1/checkpoints",
    tag = "integrity",
    params(ListQuery),
    responses((status = 200, body = CheckpointsPage), ReadErrors),
    security(()),
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CheckpointsPage>, ApiError> {
    let page = PageRequest::parse(
        query.limit,
        query.cursor.as_deref(),
        fingerprint(CHECKPOINTS.list, &[]),
    )?;
    let table = crate::projection::checkpoints::TABLE;
    caught_up(&state, &ReadAfter::at(query.position), &[table]).await?;
    let page = page_of(&state, table, &CHECKPOINTS, Vec::new(), &page).await?;
    Ok(Json(CheckpointsPage {
        checkpoints: page.rows,
        next_cursor: page.next_cursor,
    }))
}

/// Checkpoints, newest first.
const CHECKPOINTS: Keyset = Keyset {
    list: "checkpoints",
    keys: &[Key::int("position").desc()],
};
