//! `/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations and the request and answer types, so it
//! cannot drift from the code (a test checks every route is in it).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::{
    activity, checkpoints, health, history, invitations, licenses, locations, notifications,
    partner_kit, quotes, servers, sessions, tickets, user_import, users,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "portal-ledger",
        description = "Event-sourced, audit-first backend for partner portals. Every command appends to a \
                       tamper-evident log and answers with its position; reads accept `?position=` to read \
                       their own writes. Errors are `{\"error\": {\"code\", \"message\"}}`. Every command \
                       accepts an `Idempotency-Key` header."
    ),
    paths(
        health::healthz,
        health::readyz,
        health::log_head,
        sessions::sign_in,
        sessions::sign_out,
        sessions::me,
        sessions::change_password,
        users::create_account,
        users::get_account,
        users::rename_account,
        users::delete_account,
        users::transfer_ownership,
        users::list_users,
        activity::list_account,
        activity::search,
        activity::export,
        history::history,
        history::who_could,
        users::create_user,
        user_import::import_users,
        users::get_user,
        users::update_user,
        users::change_role,
        users::assign_customers,
        notifications::set_preferences,
        checkpoints::public_key,
        checkpoints::list,
        sessions::list_sessions,
        locations::add,
        locations::remove,
        notifications::list_outbox,
        users::delete_user,
        users::restore_user,
        users::force_logout,
        users::reset_password,
        invitations::invite,
        invitations::list,
        invitations::resend,
        invitations::revoke,
        invitations::accept,
        licenses::create,
        licenses::list,
        licenses::change_seats,
        licenses::assign,
        licenses::release,
        licenses::cancel,
        servers::register,
        servers::list,
        servers::update,
        servers::partner_access,
        servers::action,
        servers::configuration,
        servers::backup,
        servers::restore,
        tickets::open,
        tickets::list,
        tickets::update,
        tickets::close,
        servers::license,
        quotes::create,
        quotes::list,
        quotes::get,
        quotes::update,
        quotes::send,
        quotes::withdraw,
        quotes::accept,
        quotes::decline,
        partner_kit::list,
        partner_kit::publish,
        partner_kit::update,
        partner_kit::withdraw,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme the secured operations refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a session token from POST /v1/sessions"))
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
