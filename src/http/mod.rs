//! The HTTP edge (axum): routes, the request context, and error mapping.
//!
//! Handlers are thin: parse input into domain types (a parse failure is a
//! 4xx), call the application layer, map its answer. Every error leaves as
//! `{"error": {"code": "...", "message": "..."}}` (see `error.rs`).

pub mod activity;
pub mod checkpoints;
pub mod context;
pub mod error;
pub mod event_types;
pub mod health;
pub mod history;
pub mod idempotency;
pub mod invitations;
pub mod licenses;
pub mod locations;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod paging;
pub mod partner_kit;
pub mod proofs;
pub mod quotes;
pub mod rate_limit;
pub mod reads;
pub mod request_id;
pub mod request_metrics;
pub mod schemas;
pub mod servers;
pub mod service_accounts;
pub mod sessions;
pub mod tenancy;
pub mod tenant_export;
pub mod tickets;
pub mod trace;
pub mod user_import;
pub mod users;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::sessions::Auth;
use crate::app::Ledger;
use crate::idempotency::SharedIdempotency;
use crate::projection::runner::Projections;
use crate::store::SharedStore;

pub use error::ApiError;

/// Largest request body accepted (except a CSV import's, see
/// `user_import.rs`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers reach: the ledger that runs commands and folds the
/// log, authentication (sign-in, sessions, invitations' secrets), the
/// projections (read models and their positions), the log itself (head,
/// checkpoints), remembered answers of retried requests, the public key of
/// signed checkpoints and the metrics. Built by `service::app_state`.
#[derive(Clone)]
pub struct AppState {
    pub ledger: Ledger,
    pub store: SharedStore,
    pub auth: Auth,
    pub projections: Arc<Projections>,
    pub idempotency: SharedIdempotency,
    /// The public key of the checkpoint signer, if the service has one.
    pub checkpoint_key: Option<crate::integrity::checkpoint::PublicKey>,
    /// The process's metrics recorder (`crate::telemetry::prometheus::handle`),
    /// rendered by `GET /metrics`.
    pub metrics: PrometheusHandle,
    /// The rate limits of commands and sign-in (`rate_limit.rs`).
    pub rate_limits: rate_limit::SharedLimiters,
    /// The log's Merkle tree, for proofs (`proofs.rs`).
    pub merkle: crate::integrity::merkle_store::MerkleTree,
}

/// The service's routes.
/// Every route of the API, each written once: a handler's
/// `#[utoipa::path]` gives its method and path to the router and its
/// documentation to `/openapi.json`, so the two cannot disagree. Handlers
/// of one path share a `routes!`.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        // Service
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::scrape))
        .routes(routes!(health::log_head))
        .routes(routes!(checkpoints::list))
        .routes(routes!(checkpoints::public_key))
        .routes(routes!(proofs::inclusion))
        .routes(routes!(proofs::consistency))
        .routes(routes!(event_types::list))
        .routes(routes!(event_types::schema))
        // Sessions and the caller
        .routes(routes!(sessions::sign_in))
        .routes(routes!(sessions::sign_out))
        .routes(routes!(sessions::me))
        .routes(routes!(sessions::change_password))
        .routes(routes!(sessions::list_sessions))
        // Accounts
        .routes(routes!(users::create_account))
        .routes(routes!(
            users::get_account,
            users::rename_account,
            users::delete_account
        ))
        .routes(routes!(users::transfer_ownership))
        .routes(routes!(history::who_could))
        .routes(routes!(tenancy::customers))
        .routes(routes!(tenancy::staff))
        // Service accounts and API keys
        .routes(routes!(service_accounts::list, service_accounts::create))
        .routes(routes!(
            service_accounts::get,
            service_accounts::change,
            service_accounts::deactivate
        ))
        .routes(routes!(service_accounts::issue_key))
        .routes(routes!(service_accounts::revoke_key))
        // Users
        .routes(routes!(users::list_users, users::create_user))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(user_import::import_users))
                .layer(DefaultBodyLimit::max(user_import::MAX_IMPORT_BODY_BYTES)),
        )
        .routes(routes!(
            users::get_user,
            users::update_user,
            users::delete_user
        ))
        .routes(routes!(users::change_role))
        .routes(routes!(users::assign_customers))
        .routes(routes!(users::restore_user))
        .routes(routes!(users::force_logout))
        .routes(routes!(users::reset_password))
        .routes(routes!(notifications::set_preferences))
        .routes(routes!(notifications::list_outbox))
        .routes(routes!(locations::add))
        .routes(routes!(locations::remove))
        // Invitations
        .routes(routes!(invitations::list, invitations::invite))
        .routes(routes!(invitations::accept))
        .routes(routes!(invitations::resend))
        .routes(routes!(invitations::revoke))
        // Activity and history
        .routes(routes!(activity::search))
        .routes(routes!(activity::export))
        .routes(routes!(tenant_export::proven))
        .routes(routes!(activity::list_account))
        .routes(routes!(history::history))
        // Licenses
        .routes(routes!(licenses::list, licenses::create))
        .routes(routes!(licenses::change_seats))
        .routes(routes!(licenses::assign))
        .routes(routes!(licenses::release))
        .routes(routes!(licenses::cancel))
        // Servers
        .routes(routes!(servers::list, servers::register))
        .routes(routes!(servers::update, servers::decommission))
        .routes(routes!(servers::partner_access))
        .routes(routes!(servers::action))
        .routes(routes!(servers::configuration))
        .routes(routes!(servers::backup))
        .routes(routes!(servers::restore))
        .routes(routes!(servers::license))
        // Tickets
        .routes(routes!(tickets::list, tickets::open))
        .routes(routes!(tickets::update))
        .routes(routes!(tickets::close))
        // Quotes
        .routes(routes!(quotes::list, quotes::create))
        .routes(routes!(quotes::get, quotes::update))
        .routes(routes!(quotes::send))
        .routes(routes!(quotes::withdraw))
        .routes(routes!(quotes::accept))
        .routes(routes!(quotes::decline))
        // Partner kit
        .routes(routes!(partner_kit::list, partner_kit::publish))
        .routes(routes!(partner_kit::update, partner_kit::withdraw))
}

pub fn router(state: AppState) -> Router {
    let (routes, document) = api_routes().split_for_parts();
    routes
        .route("/openapi.json", openapi::serve(document))
        // Only on the routes' own methods: a request no route takes (404,
        // 405) is answered as such, whatever key it carries.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotent,
        ))
        // Before the idempotency check: a refusal costs nothing.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost last: the request id is settled before the trace span
        // is made (both see the same id), and the metrics count every
        // answer, the idempotency middleware's refusals included. Layers of
        // a `Router` run after routing, so each sees the route template.
        .layer(axum::middleware::from_fn(request_metrics::record))
        .layer(trace::layer())
        .layer(axum::middleware::from_fn(request_id::ensure))
        .with_state(state)
}
