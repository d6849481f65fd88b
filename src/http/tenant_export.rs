//! `GET /v1/accounts/{id}/export/proven`: one account's events (a partner
//! with `with_customers=true`: and its customer organizations') up to the
//! latest signed checkpoint, with the proof that none is missing
//! (`integrity::tenant_export`; `portal-ledger verify-tenant-export`
//! checks it offline with the public key alone).
//!
//! Reading it is reading each account's activity log: the caller must be
//! allowed `view_activity_log` in every account it holds — the question
//! the activity export asks — or gets 404 / 403 for the first it may not.
//! The events are streamed in chunks as the log is read.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;

use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiPath, ApiQuery};
use crate::http::schemas::ReadErrors;
use crate::http::AppState;
use crate::integrity::tenant_export::{
    plan_tenant_export, send_tenant_export, TenantExportError, TenantPlan,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProvenExportQuery {
    /// Also the customer organizations of this (partner) account.
    #[serde(default)]
    pub with_customers: bool,
}

impl From<TenantExportError> for ApiError {
    fn from(e: TenantExportError) -> Self {
        match e {
            TenantExportError::NoCheckpoint | TenantExportError::NoEvents(_) => {
                ApiError::new(StatusCode::CONFLICT, "no_checkpoint", e.to_string())
            }
            other => ApiError::unavailable(other),
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/export/proven",
    tag = "activity",
    params(("account_id" = AccountId, Path, description = "account id"), ProvenExportQuery),
    responses(
        (status = 200, description = "NDJSON: the proof, then the events", content_type = "application/x-ndjson"),
        (status = 409, description = "no signed checkpoint commits to the accounts yet (`no_checkpoint`)"),
        ReadErrors
    ),
)]
pub async fn proven(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ProvenExportQuery>,
) -> Result<Response, ApiError> {
    state
        .ledger
        .authorize_in(&caller.context, Action::ViewActivityLog, account_id)
        .await?;
    let plan =
        plan_tenant_export(&state.store, &account_id.to_string(), query.with_customers).await?;
    for account in plan.accounts() {
        let account: AccountId = account
            .parse()
            .map_err(|_| ApiError::unavailable("an exported account is not an account id"))?;
        state
            .ledger
            .authorize_in(&caller.context, Action::ViewActivityLog, account)
            .await?;
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(streamed(state.store.clone(), plan))
        .map_err(ApiError::unavailable)
}

/// The export as a streamed body: chunks go out as the log is read, so a
/// large tenant's export is never held in memory whole; a client that goes
/// away stops it at its next chunk.
fn streamed(store: crate::store::SharedStore, plan: TenantPlan) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let sent = send_tenant_export(&store, &plan, |chunk| {
            let tx = tx.clone();
            async move {
                tx.send(Ok(Bytes::from(chunk))).await.map_err(|_| {
                    TenantExportError::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
                })
            }
        })
        .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "a tenant export stopped");
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}
