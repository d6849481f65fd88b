//! Who is calling and from where: the request's context for the event
//! metadata, and the signed-in caller behind a bearer token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use chrono::Utc;
use uuid::Uuid;

use crate::app::sessions::Principal;
use crate::app::CommandContext;
use crate::http::error::ApiError;
use crate::http::AppState;

/// The request's context, signed in or not.
pub struct RequestContext(pub CommandContext);

fn header_text(headers: &HeaderMap, name: &str, max: usize) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(max).collect())
}

fn context_of(parts: &Parts) -> CommandContext {
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    CommandContext {
        actor: None,
        ip,
        user_agent: header_text(&parts.headers, header::USER_AGENT.as_str(), 512),
        request_id: Some(
            header_text(&parts.headers, "x-request-id", 128)
                .unwrap_or_else(|| Uuid::now_v7().to_string()),
        ),
        correlation_id: header_text(&parts.headers, "x-correlation-id", 64)
            .and_then(|s| Uuid::parse_str(&s).ok()),
        causation_id: None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestContext(context_of(parts)))
    }
}

/// A signed-in caller: the session's principal and a command context with
/// the caller as actor.
pub struct Caller {
    pub principal: Principal,
    pub context: CommandContext,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthenticated)?;
        let principal = state.auth.authenticate(token.trim(), Utc::now()).await?;
        let mut context = context_of(parts);
        context.actor = Some(principal.user_id);
        Ok(Caller { principal, context })
    }
}
