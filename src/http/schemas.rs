//! The shapes of the API's answers, typed so that `/openapi.json` is
//! generated from the same structs the handlers return.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::ids::{AccountId, InvitationId, LicenseId, UserId};
use crate::store::AppendOutcome;

/// Every error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable, stable (e.g. `email_taken`, `invalid_body`).
    pub code: String,
    pub message: String,
}

/// A command's answer: the log position it appended (pass it as
/// `?position=` to read your own write).
#[derive(Debug, Serialize, ToSchema)]
pub struct Appended {
    pub position: u64,
}

/// A command's answer when it made something: 201 with what it made
/// (its id and the position appended).
pub(crate) fn created<T>(body: T) -> (axum::http::StatusCode, axum::Json<T>) {
    (axum::http::StatusCode::CREATED, axum::Json(body))
}

/// A command that reports nothing answers with where its events landed.
impl axum::response::IntoResponse for crate::app::Ran<()> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(Appended {
            position: self.last_position(),
        })
        .into_response()
    }
}

impl From<&AppendOutcome> for Appended {
    fn from(outcome: &AppendOutcome) -> Self {
        Self {
            position: outcome.last_position(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountCreated {
    pub account_id: AccountId,
    pub position: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    pub user_id: UserId,
    pub position: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Restored {
    pub position: u64,
    /// Licenses the user held that could not be assigned again.
    pub licenses_not_restored: Vec<LicenseId>,
    /// The user's username, if another user took it meanwhile (the user
    /// is restored without one).
    pub username_not_restored: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCreated {
    pub invitation_id: InvitationId,
    pub expires_at: DateTime<Utc>,
    pub position: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResent {
    pub expires_at: DateTime<Utc>,
    pub position: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedUp {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub position: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseCreated {
    pub license_id: LicenseId,
    pub position: u64,
}

/// Read-model rows: the columns documented in `projections/README.md`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    #[schema(value_type = Vec<Object>)]
    pub users: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationsPage {
    #[schema(value_type = Vec<Object>)]
    pub invitations: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LicensesPage {
    #[schema(value_type = Vec<Object>)]
    pub licenses: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Readiness: the store answers. `status` is `degraded` while a projector
/// cannot advance (its reads wait; everything else works).
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready` or `degraded`.
    pub status: &'static str,
    pub head: u64,
    /// This process's name in the projector leases.
    pub process: String,
    /// Every projector: position, lag, the process applying it, failure.
    pub projectors: Vec<crate::projection::runner::ProjectorStatus>,
}

/// The log's head.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogHead {
    pub position: u64,
    /// SHA-256, lowercase hex.
    pub hash: String,
    pub recorded_at: Option<DateTime<Utc>>,
}

/// The errors every read can answer (doc comments are the descriptions).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ReadErrors {
    /// malformed path or query
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// not signed in
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// not allowed
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// absent, or another tenant's
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// the read models have not reached `?position=` yet, or the store is unavailable
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The errors every command can answer (the `Idempotency-Key` middleware
/// alone can answer 409 and 422 on any of them).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum CommandErrors {
    /// malformed input, unknown fields, bad Idempotency-Key
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// not signed in, or wrong credentials
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// not allowed
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// absent, or another tenant's
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// conflicts with the current state, or the Idempotency-Key is in use
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// body too large
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// invalid values, or the Idempotency-Key was used for another request
    #[response(status = 422)]
    Invalid(ErrorBody),
    /// `rate_limited`: too many commands from this address or credential
    /// (on sign-in also `too_many_attempts`); `Retry-After` says when
    #[response(status = 429, headers(("Retry-After" = u64, description = "seconds")))]
    TooMany(ErrorBody),
}

/// One problem of one row of a CSV import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblem {
    /// `email`, `name`, `role` or `licenses`; null for the row as a whole.
    pub column: Option<String>,
    /// Machine-readable, stable (e.g. `invalid_email`, `duplicate_email`,
    /// `email_taken`, `unknown_role`, `role_not_in_account_kind`,
    /// `invalid_name`, `invalid_license_id`, `unknown_license`,
    /// `license_cancelled`, `not_enough_seats`, `too_many_licenses`,
    /// `too_many_fields`).
    pub code: String,
    pub message: String,
}

/// One row of a CSV import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRow {
    /// The line the row starts on; the header is line 1.
    pub line: u64,
    /// The e-mail column as written.
    pub email: String,
    /// The user the row created (only when the import was applied).
    pub user_id: Option<UserId>,
    /// Empty when the row is fine.
    pub problems: Vec<ImportProblem>,
}

/// The answer of a CSV import: every row with its problems.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub rows: Vec<ImportRow>,
    /// The users created, in file order (empty unless applied).
    pub created: Vec<UserId>,
    /// The last position appended (null unless applied).
    pub position: Option<u64>,
}

/// The 422 of an import, as documented: always `error`; with
/// `import_rejected` (rows have problems) also the report's fields; with a
/// whole-file refusal (`csv_unknown_column`, …) `error` alone. Nothing was
/// appended either way. (Answers are built as [`ImportRejected`] or
/// [`ErrorBody`]; this type only describes both.)
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ImportRefused {
    pub error: ErrorDetail,
    pub dry_run: Option<bool>,
    pub rows: Option<Vec<ImportRow>>,
    pub created: Option<Vec<UserId>>,
    pub position: Option<u64>,
}

/// An import refused because rows have problems: the error and the full
/// report. Nothing was appended.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRejected {
    /// `import_rejected`.
    pub error: ErrorDetail,
    #[serde(flatten)]
    pub report: ImportReport,
}
