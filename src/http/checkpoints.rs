//! `/v1/checkpoints`: the public key that signs checkpoints, and the
//! checkpoints themselves — what an auditor needs to check an export
//! offline. Public on purpose: a public key and signed heads reveal nothing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use crate::http::error::{ApiError, ApiQuery};
use crate::http::reads::{caught_up, ReadAfter};
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
}

/// `GET /v1/checkpoints` — signed checkpoints, newest first (the first is
/// the one to pin).
#[utoipa::path(
    get,
    path = "/v1/checkpoints",
    tag = "integrity",
    params(("position" = Option<u64>, Query, description = "wait until the read model has applied this position")),
    responses((status = 200, body = CheckpointsPage), ReadErrors),
    security(()),
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(after): ApiQuery<ReadAfter>,
) -> Result<Json<CheckpointsPage>, ApiError> {
    caught_up(&state, &after, &[crate::projection::checkpoints::TABLE]).await?;
    let checkpoints = state
        .projections
        .target()
        .fetch(
            crate::projection::checkpoints::TABLE,
            &[],
            "position DESC",
            100,
        )
        .await?;
    Ok(Json(CheckpointsPage { checkpoints }))
}
