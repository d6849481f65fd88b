//! The HTTP edge: health probes and the log's head (the domain API arrives
//! with the domain).
//!
//! Every error leaves as `{"error": {"code": "...", "message": "..."}}` with
//! a fitting status, so clients can branch on `code` without parsing prose.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::store::{Head, SharedStore, StoreError};

/// How long a readiness probe waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/log/head", get(log_head))
        .fallback(not_found)
        .with_state(state)
}

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "store_unavailable",
            message: "the event store is unavailable".into(),
        }
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.store.head()).await {
        Ok(Ok(head)) => Ok(Json(json!({ "status": "ready", "head": head.position }))),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "store_timeout",
            message: "the event store did not answer in time".into(),
        }),
    }
}

async fn log_head(State(state): State<AppState>) -> Result<Json<Head>, ApiError> {
    Ok(Json(state.store.head().await?))
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: "no such resource".into(),
    }
}
