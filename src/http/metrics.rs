//! `GET /metrics`: the process's metrics in the Prometheus text format
//! (see the README's table for every metric).
//!
//! Most metrics are recorded where things happen (a request answered, a
//! group commit, a projector's batch). How far each projector is behind the
//! log is not an event of this process — another process may apply it, or
//! rebuild it — so a scrape first asks the projection store for every
//! projector's checkpoint and lag, which sets `projector_position`,
//! `projector_lag_events` and `projector_lag_seconds`. A store that does not
//! answer (in time) leaves them as the last scrape saw them; the scrape
//! still answers.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::http::AppState;

/// The media type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// How long a scrape waits for the projectors' checkpoints.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(5);

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((
        status = 200,
        description = "Metrics in the Prometheus text format (version 0.0.4)",
        content_type = "text/plain",
        body = String
    )),
    security(()),
)]
pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    refresh_projectors(&state).await;
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.render(),
    )
}

/// Sets the projector gauges from the projection store (the lag gauges are
/// set by `Projections::status` itself).
async fn refresh_projectors(state: &AppState) {
    match tokio::time::timeout(REFRESH_TIMEOUT, state.projections.status()).await {
        Ok(Ok(projectors)) => {
            for p in projectors {
                metrics::gauge!("projector_position", "projector" => p.projector)
                    .set(p.position as f64);
            }
        }
        Ok(Err(e)) => tracing::debug!(error = %e, "metrics: projector status unavailable"),
        Err(_) => tracing::debug!("metrics: projector status timed out"),
    }
}
