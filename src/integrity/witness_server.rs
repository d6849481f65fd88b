//! `portal-ledger witness`: an HTTP witness over an append-only directory
//! (`witness.rs`), to run on another host than the database it watches.
//!
//! `POST <base>` stores a checkpoint (201; the same one again: 200; another
//! one for the same file: 409), `GET <base>/latest` answers the checkpoint
//! of the highest head (404 before the first). It checks signatures only
//! when given the public key (then 422 for one that does not verify): a
//! witness's job is to keep what it was shown, not to judge it.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::integrity::checkpoint::PublicKey;
use crate::integrity::proofs::CarriedCheckpoint;
use crate::integrity::witness::{file_name, latest_in_directory, store_in_directory};

#[derive(Clone)]
struct Witnessing {
    dir: Arc<PathBuf>,
    public: Option<PublicKey>,
}

/// The witness's routes under `base` (e.g. `/checkpoints`).
pub fn router(base: &str, dir: PathBuf, public: Option<PublicKey>) -> Router {
    let state = Witnessing {
        dir: Arc::new(dir),
        public,
    };
    Router::new()
        .route(base, post(receive))
        .route(&format!("{base}/latest"), get(latest))
        .with_state(state)
}

async fn receive(
    State(state): State<Witnessing>,
    Json(checkpoint): Json<CarriedCheckpoint>,
) -> (StatusCode, String) {
    if let Some(public) = &state.public {
        if let Err(reason) = public.verify(&checkpoint.payload()) {
            return (StatusCode::UNPROCESSABLE_ENTITY, reason);
        }
    }
    let existed = tokio::fs::try_exists(state.dir.join(file_name(&checkpoint)))
        .await
        .unwrap_or(false);
    match store_in_directory(&state.dir, &checkpoint).await {
        Ok(()) if existed => (StatusCode::OK, "already witnessed".into()),
        Ok(()) => (StatusCode::CREATED, "witnessed".into()),
        Err(e) if e.kind() == std::io::ErrorKind::Other => (StatusCode::CONFLICT, e.to_string()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn latest(
    State(state): State<Witnessing>,
) -> Result<Json<CarriedCheckpoint>, (StatusCode, String)> {
    match latest_in_directory(&state.dir).await {
        Ok(Some(checkpoint)) => Ok(Json(checkpoint)),
        Ok(None) => Err((StatusCode::NOT_FOUND, "nothing witnessed yet".into())),
        Err(e) => Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    }
}
