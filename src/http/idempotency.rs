//! `Idempotency-Key` on every command: a retried request gets the first
//! answer and appends nothing new (storage and rules in
//! `crate::idempotency`).
//!
//! Keys are scoped to the caller's bearer token (or to anonymous callers,
//! for sign-in), and bound to the request: method, path and body.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::http::error::ApiError;
use crate::http::user_import::body_limit;
use crate::http::AppState;
use crate::idempotency::Claim;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Set on a response that repeats an earlier answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// Largest answer remembered (answers are small JSON documents).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
const MAX_KEY_LEN: usize = 255;

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// The commands a caller without credentials may send (sign-in, signup
/// with an invitation): only there does a key apply to anonymous callers.
const ANONYMOUS_COMMANDS: [&str; 2] = ["/v1/sessions", "/v1/invitations/accept"];

/// The middleware: passes reads, other methods and key-less requests
/// straight through — and requests without credentials to a route that
/// needs them, which answer 401 before any key is looked at.
pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return next.run(request).await;
    }
    if !request.headers().contains_key(header::AUTHORIZATION)
        && !ANONYMOUS_COMMANDS.contains(&request.uri().path())
    {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k)
            if !k.is_empty()
                && k.len() <= MAX_KEY_LEN
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            k.to_owned()
        }
        _ => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )
            .into_response()
        }
    };
    let scope = request
        .headers()
        .get(header::AUTHORIZATION)
        .map_or_else(|| "anonymous".to_owned(), |v| sha256_hex(&[v.as_bytes()]));
    // A CSV import may be larger than other bodies (see `user_import.rs`).
    let limit = body_limit(request.headers());
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, limit).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large",
        )
        .into_response();
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or("", |p| p.as_str())
        .to_owned();
    let fingerprint = sha256_hex(&[parts.method.as_str().as_bytes(), target.as_bytes(), &body]);

    match state
        .idempotency
        .claim(&scope, &key, &fingerprint, Utc::now())
        .await
    {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Mismatch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        )
        .into_response(),
        Ok(Claim::InFlight) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_in_use",
            "the first request with this Idempotency-Key is still running; retry shortly",
        )
        .into_response(),
        Ok(Claim::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
            response
        }
        Ok(Claim::Fresh) => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            remember(&state, &scope, &key, response).await
        }
    }
}

/// Records the answer (unless it is a 5xx, which the client should retry)
/// and passes it on.
async fn remember(state: &AppState, scope: &str, key: &str, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ANSWER_BYTES).await else {
        let _ = state.idempotency.abandon(scope, key).await;
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "answer_too_large",
            "the answer could not be kept",
        )
        .into_response();
    };
    let kept = if parts.status.is_server_error() {
        state.idempotency.abandon(scope, key).await
    } else {
        state
            .idempotency
            .finish(scope, key, parts.status.as_u16(), &bytes)
            .await
    };
    if let Err(e) = kept {
        tracing::error!(error = %e, "could not record an idempotent answer");
    }
    Response::from_parts(parts, Body::from(bytes))
}
