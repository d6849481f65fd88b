//! `POST /v1/accounts/{id}/users/import`: bulk import of users from a CSV
//! body (`text/csv`), as a dry run or applied all-or-nothing.
//!
//! This is the one route whose body may exceed the API's 64 KiB: a file of
//! [`MAX_ROWS`](crate::domain::user_import::MAX_ROWS) rows with long
//! addresses, names and licenses does not fit in 64 KiB, and making
//! clients split a spreadsheet at an arbitrary byte count would break the
//! import's all-or-nothing promise for the file they meant. So the route
//! accepts [`MAX_IMPORT_BODY_BYTES`] (the parser's own file limit), and only
//! for CSV bodies (see [`body_limit`], which the `Idempotency-Key`
//! middleware also uses to buffer such a body).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::app::user_import::{ImportError, ImportMode, ImportReport as AppReport};
use crate::domain::ids::AccountId;
use crate::domain::user_import::{FileError, MAX_FILE_BYTES};
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiPath, ApiQuery};
use crate::http::schemas::{
    CommandErrors, ErrorBody, ErrorDetail, ImportProblem, ImportRefused, ImportRejected,
    ImportReport, ImportRow,
};
use crate::http::{AppState, MAX_BODY_BYTES};

/// Largest CSV body accepted by the import route.
pub const MAX_IMPORT_BODY_BYTES: usize = MAX_FILE_BYTES;

/// Whether the request's body is declared as CSV (`text/csv`, with an
/// optional UTF-8 charset).
fn is_csv(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut parts = value.split(';').map(str::trim);
    if parts.next() != Some("text/csv") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_csv",
            "send the file as Content-Type: text/csv",
        ));
    }
    for parameter in parts {
        let charset = parameter
            .strip_prefix("charset=")
            .map(|c| c.trim_matches('"'));
        if charset.is_some_and(|c| !matches!(c, "utf-8" | "utf8" | "us-ascii")) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_charset",
                "the file must be UTF-8 (charset=utf-8)",
            ));
        }
    }
    Ok(())
}

/// The body limit of a request: CSV bodies may be as large as an import
/// file, everything else has the API's limit.
pub fn body_limit(headers: &HeaderMap) -> usize {
    if is_csv(headers).is_ok() {
        MAX_IMPORT_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true`: only check the file and report every row's problems;
    /// nothing is appended. Default `false`: import every row, or none.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /v1/accounts/{id}/users/import?dry_run=…` with a `text/csv` body.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/users/import",
    tag = "users",
    params(("account_id" = AccountId, Path, description = "account id"), ImportQuery),
    request_body(
        content = String,
        content_type = "text/csv",
        description = "UTF-8 CSV, at most 1 MiB and 1,000 rows. Header (any order, any letter case): \
                       `email,name,role,licenses` (`licenses` optional). `licenses`: zero to three \
                       license ids separated by `;` or spaces. Blank lines are skipped."
    ),
    responses(
        (status = 200, body = ImportReport, description = "dry run: every row and its problems; nothing appended"),
        (status = 201, body = ImportReport, description = "every row imported in one append"),
        CommandErrors,
        (status = 415, body = ErrorBody, description = "the body is not `text/csv` (UTF-8)"),
        (status = 422, body = ImportRefused,
         description = "`import_rejected`: rows have problems (the report is included) and nothing was appended; \
                        or the file as a whole is unusable (`csv_unknown_column`, `csv_missing_column`, \
                        `csv_duplicate_column`, `csv_no_header`, `csv_no_rows`, `too_many_rows`, `not_utf8`, \
                        `csv_malformed`), then only `error` is present"),
    ),
)]
pub async fn import_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    is_csv(&headers)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::new(e.status(), "invalid_body", e.body_text())
        }
    })?;
    let mode = if query.dry_run {
        ImportMode::DryRun
    } else {
        ImportMode::Apply
    };
    let report = state
        .ledger
        .import_users(&caller.context, account_id, &body, mode)
        .await
        .map_err(|e| match e {
            ImportError::File(FileError::TooBig { .. }) => too_large(),
            ImportError::File(e) => ApiError::invalid(e.code(), e.to_string()),
            ImportError::Ledger(e) => e.into(),
        })?;
    let refused = report.rows_with_problems();
    let applied = report.position.is_some();
    let body = answer(report);
    Ok(match (mode, applied) {
        (ImportMode::DryRun, _) => (StatusCode::OK, Json(body)).into_response(),
        (ImportMode::Apply, true) => (StatusCode::CREATED, Json(body)).into_response(),
        (ImportMode::Apply, false) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ImportRejected {
                error: ErrorDetail {
                    code: "import_rejected".into(),
                    message: format!(
                        "{refused} of {} rows have problems; nothing was imported",
                        body.rows.len()
                    ),
                },
                report: body,
            }),
        )
            .into_response(),
    })
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("an import file may have at most {MAX_IMPORT_BODY_BYTES} bytes; split it"),
    )
}

fn answer(report: AppReport) -> ImportReport {
    let applied = report.position.is_some();
    ImportReport {
        dry_run: report.mode == ImportMode::DryRun,
        rows: report
            .rows
            .into_iter()
            .map(|row| ImportRow {
                line: row.line,
                email: row.email,
                user_id: applied.then_some(row.user_id),
                problems: row
                    .problems
                    .into_iter()
                    .map(|p| ImportProblem {
                        column: p.column.map(|c| c.as_str().to_owned()),
                        code: p.code.as_str().to_owned(),
                        message: p.message,
                    })
                    .collect(),
            })
            .collect(),
        created: report.created,
        position: report.position,
    }
}
