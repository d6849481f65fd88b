//! `/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations and the request and answer types, so it
//! cannot drift from the code (a test checks every route is in it).

use axum::Json;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::Required;
use utoipa::{Modify, OpenApi};

use crate::http::{
    activity, checkpoints, health, history, invitations, licenses, locations, metrics,
    notifications, partner_kit, quotes, servers, sessions, tickets, user_import, users,
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
        metrics::scrape,
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
    modifiers(&BearerAuth, &CommandHeaders)
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

/// The headers every command (POST, PUT, PATCH, DELETE) accepts, read by
/// `http::idempotency` and `http::context` rather than by each handler, so
/// no handler annotation names them: added to every command here.
struct CommandHeaders;

impl Modify for CommandHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let header = |name: &str, uuid: bool, description: &str| {
            let mut schema = ObjectBuilder::new().schema_type(Type::String);
            if uuid {
                schema = schema.format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
            }
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build()
        };
        let headers = [
            header(
                "Idempotency-Key",
                false,
                "1 to 255 visible ASCII characters; a retry with the same key and body gets the first answer",
            ),
            header(
                "X-Correlation-Id",
                true,
                "recorded in the events' metadata (400 invalid_correlation_id when not a UUID)",
            ),
            header(
                "X-Causation-Id",
                true,
                "the event this command reacts to, recorded in the metadata (400 invalid_causation_id when not a UUID)",
            ),
        ];
        for item in openapi.paths.paths.values_mut() {
            let commands: [&mut Option<Operation>; 4] = [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in commands.into_iter().flatten() {
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .extend(headers.iter().cloned());
            }
        }
    }
}

/// `GET /openapi.json`
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
