//! `X-Request-Id`: one id per request, the client's or a generated one,
//! seen alike by the request's span (its log lines), the event metadata of
//! what it appends, and the client (echoed in the answer).
//!
//! Why a middleware: the trace span and the handlers read the id at
//! different times; if each generated its own when the client sent none,
//! the log would name one id and the log of events another. The middleware
//! runs first (outside the trace layer) and writes the id into the request's
//! headers, so everything after it reads the same value.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

/// The header.
pub const HEADER: &str = "x-request-id";
/// Longest id kept from a client (longer ones are cut to this).
pub const MAX_LEN: usize = 128;

/// The client's id: the header's text (visible ASCII only), trimmed and cut
/// to [`MAX_LEN`] characters; `None` when absent, empty or not text.
pub fn from_headers(headers: &HeaderMap) -> Option<String> {
    let text = headers.get(HEADER)?.to_str().ok()?.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.chars().take(MAX_LEN).collect())
}

/// A fresh id for a request that came without one (a UUID v7: ordered by
/// time, like the log).
pub fn generate() -> String {
    Uuid::now_v7().to_string()
}

/// The middleware: settles the id, puts it in the request's headers, and
/// echoes it in the response's.
pub async fn ensure(mut request: Request, next: Next) -> Response {
    let id = from_headers(request.headers()).unwrap_or_else(generate);
    let value = HeaderValue::from_str(&id).ok();
    if let Some(value) = &value {
        request.headers_mut().insert(HEADER, value.clone());
    }
    let mut response = next.run(request).await;
    if let Some(value) = value {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_bytes(value).expect("header"));
        headers
    }

    #[test]
    fn the_clients_id_is_kept_trimmed_and_cut() {
        assert_eq!(
            from_headers(&headers(b" req-42 ")).as_deref(),
            Some("req-42")
        );
        let long = "x".repeat(300);
        assert_eq!(
            from_headers(&headers(long.as_bytes())).map(|s| s.len()),
            Some(MAX_LEN)
        );
    }

    #[test]
    fn an_absent_empty_or_non_text_id_is_none() {
        assert_eq!(from_headers(&HeaderMap::new()), None);
        assert_eq!(from_headers(&headers(b"   ")), None);
        assert_eq!(from_headers(&headers(b"caf\xc3\xa9")), None);
    }
}
