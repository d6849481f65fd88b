//! Liveness, readiness and the log's head.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::AppState;
use crate::store::Head;

/// How long a readiness probe waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.store.head()).await {
        Ok(Ok(head)) => Ok(Json(json!({ "status": "ready", "head": head.position }))),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_timeout",
            "the event store did not answer in time",
        )),
    }
}

pub async fn log_head(State(state): State<AppState>) -> Result<Json<Head>, ApiError> {
    Ok(Json(state.store.head().await?))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}
