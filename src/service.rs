//! The service wired together: a backend, its projections, the ledger and
//! authentication behind the HTTP state, built the one way `serve` runs
//! them.
//!
//! Why one function: the tests spawn their app with it too, so the app
//! they exercise is the app that runs (the same read-model member index,
//! the same ledger settings), and a new part of the wiring reaches both at
//! once.

use std::sync::Arc;

use chrono::Duration;

use crate::app::sessions::Auth;
use crate::app::Ledger;
use crate::backend::Backend;
use crate::http::AppState;
use crate::integrity::checkpoint::PublicKey;
use crate::notify::SharedNotifier;
use crate::privacy::SharedPersonalData;
use crate::projection::read_models::ReadModels;
use crate::projection::runner::Projections;

/// What a deployment chooses; the defaults are `serve`'s.
#[derive(Default)]
pub struct Settings {
    /// How long a deleted user can be restored (default: the domain's).
    pub retention: Option<Duration>,
    /// Where e-mails go (default: the log output).
    pub notifier: Option<SharedNotifier>,
    /// The public key of the signed checkpoints, served to auditors.
    pub checkpoint_key: Option<PublicKey>,
    /// Rate limits of commands and sign-in (`None`: none).
    pub rate_limits: Option<crate::http::rate_limit::RateLimits>,
}

/// The HTTP state of a service over `backend`: a ledger sealing personal
/// data with `personal` (one per process, shared with `projections`) and
/// listing an account's members from the read models, authentication over
/// the backend's credentials, the projections, the remembered answers of
/// retried requests, and the process's metrics.
pub fn app_state(
    backend: &Backend,
    personal: SharedPersonalData,
    projections: Arc<Projections>,
    settings: Settings,
) -> AppState {
    let mut ledger = Ledger::new(backend.shared(), personal)
        .with_members(Arc::new(ReadModels(projections.target().clone())));
    if let Some(retention) = settings.retention {
        ledger = ledger.with_retention(retention);
    }
    let mut auth = Auth::new(ledger, backend.credentials());
    if let Some(notifier) = settings.notifier {
        auth = auth.with_notifier(notifier);
    }
    AppState {
        ledger: auth.ledger().clone(),
        store: backend.shared(),
        auth,
        projections,
        idempotency: backend.idempotency(),
        checkpoint_key: settings.checkpoint_key,
        metrics: crate::telemetry::prometheus::handle(),
        rate_limits: settings
            .rate_limits
            .and_then(crate::http::rate_limit::Limiters::new),
        merkle: backend.merkle_tree(),
    }
}
