//! `/v1/proofs/…`: Merkle proofs (RFC 9162) that one entry is in the log,
//! and that an older log is a prefix of a newer one — each a few hashes,
//! with the signed checkpoints whose tree roots they are checked against
//! (`integrity::proofs`; `portal-ledger verify-proof` checks them
//! offline). Public, like the checkpoints: a proof holds only hashes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::http::error::{ApiError, ApiQuery};
use crate::http::schemas::ReadErrors;
use crate::http::AppState;
use crate::integrity::merkle::ProofError;
use crate::integrity::merkle_store::MerkleError;
use crate::integrity::proofs::{self, ConsistencyProof, InclusionProof};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The entry's position (1 ≤ position ≤ size).
    pub position: u64,
    /// The log size the proof is for (default: the log's head); pick the
    /// `head_position` of a signed checkpoint to check against its root.
    pub size: Option<u64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older size (≥ 1).
    pub from: u64,
    /// The newer size (≥ from; default: the log's head).
    pub to: Option<u64>,
}

impl From<MerkleError> for ApiError {
    fn from(e: MerkleError) -> Self {
        let bad = |code: &'static str| ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string());
        match &e {
            MerkleError::BeyondHead { .. } => bad("size_beyond_head"),
            MerkleError::Proof(ProofError::BeyondSize { .. }) => bad("invalid_position"),
            MerkleError::Proof(ProofError::BadSizes { .. }) => bad("invalid_sizes"),
            MerkleError::Proof(_) | MerkleError::Missing(_) | MerkleError::Store(_) => {
                ApiError::unavailable(e)
            }
        }
    }
}

async fn head(state: &AppState) -> Result<u64, ApiError> {
    Ok(state.store.head().await?.position)
}

/// `GET /v1/proofs/inclusion` — proves the entry at `position` is in the
/// log of `size` entries.
#[utoipa::path(
    get,
    path = "/v1/proofs/inclusion",
    tag = "integrity",
    params(InclusionQuery),
    responses((status = 200, body = InclusionProof), ReadErrors),
    security(()),
)]
pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let size = match query.size {
        Some(size) => size,
        None => head(&state).await?,
    };
    Ok(Json(
        proofs::prove_inclusion(&state.merkle, query.position, size).await?,
    ))
}

/// `GET /v1/proofs/consistency` — proves the log of `from` entries is a
/// prefix of the log of `to` entries.
#[utoipa::path(
    get,
    path = "/v1/proofs/consistency",
    tag = "integrity",
    params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), ReadErrors),
    security(()),
)]
pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let to = match query.to {
        Some(to) => to,
        None => head(&state).await?,
    };
    Ok(Json(
        proofs::prove_consistency(&state.merkle, query.from, to).await?,
    ))
}
