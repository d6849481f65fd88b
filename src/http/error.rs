//! Every error the API returns, as `{"error": {"code", "message"}}` with a
//! fitting status, and the JSON body extractor that turns malformed input
//! into such errors.
//!
//! Status policy: 400 malformed or unknown input (bad JSON, unknown fields,
//! wrong types), 401 not signed in, 403 signed in but not allowed, 404 absent
//! — and for another tenant's resources, so nothing leaks —, 409 conflicts
//! with current state, 413 body too large, 415 not JSON, 422 well-formed but
//! invalid values (e-mail, role, name, password), 503 store unavailable or
//! too much contention.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::app::sessions::AuthError;
use crate::app::LedgerError;
use crate::auth::password::PasswordError;
use crate::domain::permissions::Denied;
use crate::domain::DomainError;
use crate::projection::ProjectionError;
use crate::store::StoreError;

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a retry may succeed (`Retry-After`), for 429
    /// and 503 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The answer with a `Retry-After` of `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first: Authorization: Bearer <token>",
        )
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unavailable(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "store error");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the event store is unavailable",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::unavailable(e)
    }
}

impl From<ProjectionError> for ApiError {
    fn from(e: ProjectionError) -> Self {
        ApiError::unavailable(e)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        use DomainError::*;
        let status = match &e {
            AccountNotFound | UserNotFound | NotFound | UserPurged | InvalidInvitation => {
                StatusCode::NOT_FOUND
            }
            InvitationExpired => StatusCode::GONE,
            PartnerAccessNotGranted | PersonRequired => StatusCode::FORBIDDEN,
            InvalidSecondFactor => StatusCode::UNAUTHORIZED,
            InvalidName
            | InvalidIp
            | Role(_)
            | InvalidTenantInvitation
            | PartnerNeedsInvitation
            | InvalidSeats
            | InvalidGrantEnd
            | RoleCannotAct
            | InvalidKeyExpiry
            | NotLicensable
            | InvalidText
            | NotACustomer
            | InvalidProduct
            | InvalidQuoteSeats
            | InvalidUnitPrice
            | InvalidCurrency
            | InvalidValidUntil
            | QuoteNeedsOrganization
            | InvalidTitle
            | InvalidCategory
            | InvalidKitMaterial
            | InvalidUrl
            | LicenseNotInOrganization
            | InvalidUsername(_)
            | ControlCharacter { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AlreadyExists
            | EmailTaken
            | UsernameTaken
            | LastAdmin
            | OwnerProtected
            | OwnerMustTransferFirst
            | OnlyOwnerTransfers
            | TransferTargetNotAdmin
            | UserDeleted
            | UserNotDeleted
            | RetentionExpired
            | RetentionNotExpired
            | NoChange
            | InvitationNotPending
            | NotEnoughSeats { .. }
            | SeatsInUse { .. }
            | LicenseCancelled
            | PlatformIsPermanent
            | TicketClosed
            | QuoteNotDraft
            | QuoteNotSent
            | QuoteClosed
            | QuoteExpired
            | ServerDecommissioned
            | ServiceAccountDeactivated
            | TooManyKeys { .. }
            | KeyRevoked => StatusCode::CONFLICT,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        match e {
            Denied::Hidden => ApiError::not_found(),
            Denied::Forbidden { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Domain(e) => e.into(),
            LedgerError::Denied(e) => e.into(),
            LedgerError::Unauthenticated => ApiError::unauthenticated(),
            LedgerError::Store(e) => e.into(),
            LedgerError::Codec(e) => ApiError::unavailable(e),
            LedgerError::Privacy(crate::privacy::PrivacyError::Keys(e)) => e.into(),
            LedgerError::Privacy(e) => ApiError::unavailable(e),
            LedgerError::Randomness(e) => ApiError::unavailable(e),
            LedgerError::Contention => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "contention",
                "too many concurrent changes; retry",
            )
            .retry_after(1),
        }
    }
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::TooShort | PasswordError::TooLong => {
                ApiError::invalid("invalid_password", e.to_string())
            }
            PasswordError::Hashing(_) => ApiError::unavailable(e),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                e.to_string(),
            ),
            AuthError::Unauthenticated => ApiError::unauthenticated(),
            AuthError::TooManyAttempts { retry_after } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                e.to_string(),
            )
            .retry_after(retry_after.max(1) as u64),
            AuthError::SecondFactorRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "second_factor_required",
                e.to_string(),
            ),
            AuthError::InvalidApiKey => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", e.to_string())
            }
            AuthError::ApiKeyExpired => {
                ApiError::new(StatusCode::UNAUTHORIZED, "api_key_expired", e.to_string())
            }
            AuthError::ApiKeyRevoked => {
                ApiError::new(StatusCode::UNAUTHORIZED, "api_key_revoked", e.to_string())
            }
            AuthError::NotEmpty => ApiError::new(StatusCode::CONFLICT, "not_empty", e.to_string()),
            AuthError::Password(e) => e.into(),
            AuthError::Ledger(e) => e.into(),
        }
    }
}

/// A JSON body whose problems become API errors (`deny_unknown_fields` on
/// the target type turns unknown fields into 400s).
///
/// Every string of the body (member names too) is also checked for control
/// characters before any handler sees it: 422 `control_character` naming
/// the JSON path. This is the edge's half of the rule in
/// `domain::text` — no field of any command, present or future, can carry
/// NUL or an escape sequence into the log — while the domain's parsers
/// decide, per field, whether newlines and tabs are allowed.
pub struct ApiJson<T>(pub T);

/// Whether the request says its body is JSON (`application/json` or
/// `application/…+json`).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase())
        .is_some_and(|mime| {
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// The first string in `value` (or member name) holding a control
/// character other than newline, carriage return and tab, as a JSON path.
fn control_character_at(value: &serde_json::Value, path: &mut String) -> Option<(String, char)> {
    use crate::domain::text::{forbidden_control, Lines};
    match value {
        serde_json::Value::String(s) => {
            forbidden_control(s, Lines::Many).map(|(_, c)| (path.clone(), c))
        }
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = control_character_at(item, path);
            path.truncate(len);
            found
        }),
        serde_json::Value::Object(members) => members.iter().find_map(|(name, item)| {
            let len = path.len();
            path.push('.');
            path.push_str(&name.escape_debug().to_string());
            let found = match forbidden_control(name, Lines::One) {
                Some((_, c)) => Some((path.clone(), c)),
                None => control_character_at(item, path),
            };
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not_json",
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        e.body_text(),
                    )
                } else {
                    ApiError::new(e.status(), "invalid_body", e.body_text())
                }
            })?;
        let parsed = Json::<T>::from_bytes(&bytes);
        if let Ok(tree) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            // A number the log's canonical form would change is refused,
            // whatever field it is in (`crate::json_numbers`).
            let text = std::str::from_utf8(&bytes).unwrap_or_default();
            if let Some(number) = crate::json_numbers::first_inexact(text, &tree, "body") {
                return Err(ApiError::invalid("inexact_number", number.to_string()));
            }
            if let Some((path, c)) = control_character_at(&tree, &mut "body".to_owned()) {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "control_character",
                    format!(
                        "{path} holds a control character (U+{:04X}); text may hold \
                         newlines and tabs only where a field allows several lines",
                        u32::from(c)
                    ),
                ));
            }
        }
        match parsed {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.body_text())
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
                }
                JsonRejection::MissingJsonContentType(e) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "not_json",
                    e.body_text(),
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        e.body_text(),
                    )
                }
                other => ApiError::new(other.status(), "invalid_body", other.body_text()),
            }),
        }
    }
}

/// A path parameter whose parse failure is a 400 `invalid_path`.
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))
    }
}

/// A query string whose parse failure (or unknown parameter) is a 400
/// `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}
