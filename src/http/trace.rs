//! A span per HTTP request, so that every log line a request causes (a
//! handler's warning, the ledger's e-mail, a store error) names the request
//! it belongs to.
//!
//! The span `http_request` carries `method`, `route` (the route template,
//! as in the metrics; `unmatched` for the 404 fallback) and `request_id`
//! (the `X-Request-Id` the `request_id` middleware settled before this
//! layer runs, so it is the id the event metadata records too).
//!
//! The span is made at ERROR level on purpose: a span below the log filter's
//! level is disabled, and its fields then vanish from the lines inside it;
//! at ERROR it is kept whatever `RUST_LOG` lets through. Responses are
//! logged at DEBUG (`tower_http::trace`), server errors (5xx) at ERROR.

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::Request;
use tower_http::trace::{HttpMakeClassifier, MakeSpan, TraceLayer};
use tracing::Span;

use crate::http::request_id;

/// The `route` of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// The route template a request matched (`/v1/users/{user_id}`), never
/// its raw path; [`UNMATCHED`] for the fallback.
pub fn route_of<B>(request: &Request<B>) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
}

/// Makes the `http_request` span.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl MakeSpan<Body> for RequestSpan {
    fn make_span(&mut self, request: &Request<Body>) -> Span {
        let id = request_id::from_headers(request.headers()).unwrap_or_default();
        tracing::error_span!(
            "http_request",
            method = %request.method(),
            route = %route_of(request),
            request_id = %id,
        )
    }
}

/// The trace layer of the router.
pub fn layer() -> TraceLayer<HttpMakeClassifier, RequestSpan> {
    TraceLayer::new_for_http().make_span_with(RequestSpan)
}
