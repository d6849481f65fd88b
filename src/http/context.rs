//! Who is calling and from where: the request's context for the event
//! metadata, and the signed-in caller behind a bearer token.
//!
//! `X-Correlation-Id` and `X-Causation-Id` are UUIDs (a causation id names
//! the event the client reacts to, e.g. one it read from the log). A
//! malformed one is a 400, not silently dropped: a client that sends an id
//! relies on finding it in the metadata, and an audit trail whose links
//! quietly vanish is worse than a refused request.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use chrono::Utc;
use uuid::Uuid;

use crate::app::command::Command;
use crate::app::sessions::{Credential, Principal};
use crate::app::{CommandContext, Ledger, Ran};
use crate::auth::api_key::ApiKeyToken;
use crate::http::error::ApiError;
use crate::http::request_id;
use crate::http::AppState;

/// The request's context, signed in or not.
pub struct RequestContext(pub CommandContext);

fn header_text(headers: &HeaderMap, name: &str, max: usize) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(max).collect())
}

/// An optional UUID header; present but not a UUID is a 400 with `code`.
fn uuid_header(
    headers: &HeaderMap,
    name: &str,
    code: &'static str,
) -> Result<Option<Uuid>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|s| Uuid::parse_str(s.trim()).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code,
                format!("the {name} header must be a UUID"),
            )
        })
}

fn context_of(parts: &Parts) -> Result<CommandContext, ApiError> {
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    Ok(CommandContext {
        actor: None,
        service: None,
        ip,
        user_agent: header_text(&parts.headers, header::USER_AGENT.as_str(), 512),
        // The same id as the request's span: the `request_id` middleware
        // settled it in the headers (generating here only where a router
        // runs without that middleware).
        request_id: Some(
            request_id::from_headers(&parts.headers).unwrap_or_else(request_id::generate),
        ),
        correlation_id: uuid_header(&parts.headers, "x-correlation-id", "invalid_correlation_id")?,
        causation_id: uuid_header(&parts.headers, "x-causation-id", "invalid_causation_id")?,
    })
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestContext(context_of(parts)?))
    }
}

/// A signed-in caller — a person with a session, or a service account with
/// an API key (`Authorization: Bearer plk_…`) — and a command context with
/// the caller as actor: what a handler needs to run a command as them
/// ([`Caller::run`]).
pub struct Caller {
    pub credential: Credential,
    pub context: CommandContext,
    ledger: Ledger,
}

impl Caller {
    /// Runs `command` as this caller ([`Ledger::run`]: load, authorize,
    /// decide, append).
    pub async fn run<O: Send, C: Command<O>>(&self, command: C) -> Result<Ran<O>, ApiError> {
        Ok(self.ledger.run(&self.context, command).await?)
    }

    /// The person's session (a service account has none: 403
    /// `person_required`).
    pub fn session(&self) -> Result<&Principal, ApiError> {
        Ok(self.credential.session()?)
    }
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
        let token = token.trim();
        let credential = if ApiKeyToken::looks_like(token) {
            state.auth.authenticate_key(token, Utc::now()).await?
        } else {
            Credential::Session(state.auth.authenticate(token, Utc::now()).await?)
        };
        let context = credential.acting_in(context_of(parts)?);
        Ok(Caller {
            credential,
            context,
            ledger: state.ledger.clone(),
        })
    }
}
