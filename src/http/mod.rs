//! The HTTP edge (axum): routes, the request context, and error mapping.
//!
//! Handlers are thin: parse input into domain types (a parse failure is a
//! 4xx), call the application layer, map its answer. Every error leaves as
//! `{"error": {"code": "...", "message": "..."}}` (see `error.rs`).

pub mod activity;
pub mod checkpoints;
pub mod context;
pub mod error;
pub mod health;
pub mod history;
pub mod idempotency;
pub mod invitations;
pub mod licenses;
pub mod locations;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod partner_kit;
pub mod quotes;
pub mod request_id;
pub mod request_metrics;
pub mod schemas;
pub mod servers;
pub mod sessions;
pub mod tickets;
pub mod trace;
pub mod user_import;
pub mod users;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::app::sessions::Auth;
use crate::idempotency::SharedIdempotency;
use crate::projection::runner::Projections;
use crate::store::SharedStore;

pub use error::ApiError;

/// Largest request body accepted (except a CSV import's, see
/// `user_import.rs`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub auth: Auth,
    pub projections: Arc<Projections>,
    pub idempotency: SharedIdempotency,
    /// The public key of the checkpoint signer, if the service has one.
    pub checkpoint_key: Option<crate::integrity::checkpoint::PublicKey>,
    /// The process's metrics recorder (`crate::telemetry::prometheus::handle`),
    /// rendered by `GET /metrics`.
    pub metrics: PrometheusHandle,
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/v1/log/head", get(health::log_head))
        .route("/v1/checkpoints", get(checkpoints::list))
        .route("/v1/activity", get(activity::search))
        .route("/v1/activity/export", get(activity::export))
        .route(
            "/v1/history/{entity_type}/{entity_id}",
            get(history::history),
        )
        .route("/v1/accounts/{account_id}/access", get(history::who_could))
        .route("/v1/checkpoints/public-key", get(checkpoints::public_key))
        .route("/v1/sessions", post(sessions::sign_in))
        .route(
            "/v1/sessions/current",
            axum::routing::delete(sessions::sign_out),
        )
        .route("/v1/me", get(sessions::me))
        .route("/v1/me/password", put(sessions::change_password))
        .route("/v1/accounts", post(users::create_account))
        .route(
            "/v1/accounts/{account_id}",
            get(users::get_account)
                .patch(users::rename_account)
                .delete(users::delete_account),
        )
        .route(
            "/v1/accounts/{account_id}/owner",
            put(users::transfer_ownership),
        )
        .route(
            "/v1/accounts/{account_id}/users",
            get(users::list_users).post(users::create_user),
        )
        .route(
            "/v1/accounts/{account_id}/users/import",
            post(user_import::import_users)
                .layer(DefaultBodyLimit::max(user_import::MAX_IMPORT_BODY_BYTES)),
        )
        .route(
            "/v1/accounts/{account_id}/activity",
            get(activity::list_account),
        )
        .route(
            "/v1/users/{user_id}",
            get(users::get_user)
                .patch(users::update_user)
                .delete(users::delete_user),
        )
        .route(
            "/v1/accounts/{account_id}/invitations",
            get(invitations::list).post(invitations::invite),
        )
        .route(
            "/v1/accounts/{account_id}/licenses",
            get(licenses::list).post(licenses::create),
        )
        .route(
            "/v1/licenses/{license_id}/seats",
            put(licenses::change_seats),
        )
        .route(
            "/v1/licenses/{license_id}/assignments",
            post(licenses::assign),
        )
        .route(
            "/v1/licenses/{license_id}/releases",
            post(licenses::release),
        )
        .route("/v1/licenses/{license_id}/cancel", post(licenses::cancel))
        .route(
            "/v1/accounts/{account_id}/servers",
            get(servers::list).post(servers::register),
        )
        .route(
            "/v1/servers/{server_id}",
            axum::routing::patch(servers::update),
        )
        .route(
            "/v1/servers/{server_id}/partner-access",
            put(servers::partner_access),
        )
        .route("/v1/servers/{server_id}/actions", post(servers::action))
        .route(
            "/v1/servers/{server_id}/configuration",
            put(servers::configuration),
        )
        .route("/v1/servers/{server_id}/backups", post(servers::backup))
        .route(
            "/v1/servers/{server_id}/backups/{backup_id}/restore",
            post(servers::restore),
        )
        .route(
            "/v1/accounts/{account_id}/tickets",
            get(tickets::list).post(tickets::open),
        )
        .route(
            "/v1/tickets/{ticket_id}",
            axum::routing::patch(tickets::update),
        )
        .route("/v1/tickets/{ticket_id}/close", post(tickets::close))
        .route("/v1/servers/{server_id}/license", put(servers::license))
        .route(
            "/v1/accounts/{account_id}/quotes",
            get(quotes::list).post(quotes::create),
        )
        .route(
            "/v1/quotes/{quote_id}",
            get(quotes::get).patch(quotes::update),
        )
        .route("/v1/quotes/{quote_id}/send", post(quotes::send))
        .route("/v1/quotes/{quote_id}/withdraw", post(quotes::withdraw))
        .route("/v1/quotes/{quote_id}/accept", post(quotes::accept))
        .route("/v1/quotes/{quote_id}/decline", post(quotes::decline))
        .route(
            "/v1/partner-kit",
            get(partner_kit::list).post(partner_kit::publish),
        )
        .route(
            "/v1/partner-kit/{item_id}",
            axum::routing::patch(partner_kit::update).delete(partner_kit::withdraw),
        )
        .route("/v1/invitations/accept", post(invitations::accept))
        .route(
            "/v1/invitations/{invitation_id}/resend",
            post(invitations::resend),
        )
        .route(
            "/v1/invitations/{invitation_id}/revoke",
            post(invitations::revoke),
        )
        .route("/v1/users/{user_id}/role", put(users::change_role))
        .route(
            "/v1/users/{user_id}/customers",
            put(users::assign_customers),
        )
        .route(
            "/v1/users/{user_id}/notification-preferences",
            put(notifications::set_preferences),
        )
        .route(
            "/v1/users/{user_id}/trusted-locations",
            post(locations::add),
        )
        .route(
            "/v1/users/{user_id}/trusted-locations/{ip}",
            delete(locations::remove),
        )
        .route(
            "/v1/accounts/{account_id}/sessions",
            get(sessions::list_sessions),
        )
        .route(
            "/v1/accounts/{account_id}/outbox",
            get(notifications::list_outbox),
        )
        .route("/v1/users/{user_id}/restore", post(users::restore_user))
        .route("/v1/users/{user_id}/logout", post(users::force_logout))
        .route(
            "/v1/users/{user_id}/password-reset",
            post(users::reset_password),
        )
        .fallback(health::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotent,
        ))
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
