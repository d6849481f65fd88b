//! Liveness, readiness and the log's head.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::http::error::ApiError;
use crate::http::schemas::{ErrorBody, Health, LogHead, Ready};
use crate::http::AppState;

/// How long a readiness probe waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, body = Health)),
    security(()),
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses((status = 200, body = Ready), (status = 503, body = ErrorBody)),
    security(()),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.store.head()).await {
        Ok(Ok(head)) => {
            let projectors =
                match tokio::time::timeout(READY_TIMEOUT, state.projections.status()).await {
                    Ok(Ok(projectors)) => projectors,
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => {
                        return Err(ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "store_timeout",
                            "the projection store did not answer in time",
                        ))
                    }
                };
            let degraded = projectors.iter().any(|p| p.failure.is_some());
            Ok(Json(Ready {
                status: if degraded { "degraded" } else { "ready" },
                head: head.position,
                process: state.projections.holder().to_owned(),
                projectors,
            }))
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_timeout",
            "the event store did not answer in time",
        )),
    }
}

#[utoipa::path(
    get,
    path = "/v1/log/head",
    tag = "log",
    responses((status = 200, body = LogHead)),
    security(()),
)]
pub async fn log_head(State(state): State<AppState>) -> Result<Json<LogHead>, ApiError> {
    let head = state.store.head().await?;
    Ok(Json(LogHead {
        position: head.position,
        hash: head.hash.to_hex(),
        recorded_at: head.recorded_at,
    }))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// A known path with a method it does not have: the error object like
/// every other answer (axum's own 405 has an empty body).
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take that method (see /openapi.json)",
    )
}
