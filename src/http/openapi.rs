//! `/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations and the request and answer types as the
//! router is built from the same list (`http::api_routes`), so it cannot
//! drift from the code.

use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::Required;
use utoipa::{Modify, OpenApi};

use axum::http::header;
use axum::routing::{get, MethodRouter};
use bytes::Bytes;

use crate::http::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "portal-ledger",
        description = "Event-sourced, audit-first backend for partner portals. Every command appends to a \
                       tamper-evident log and answers with its position; reads accept `?position=` to read \
                       their own writes. Errors are `{\"error\": {\"code\", \"message\"}}`. Every command \
                       accepts an `Idempotency-Key` header."
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
                    .description(Some(
                        "a session token from POST /v1/sessions, or a service account's API key (`plk_…`) from POST /v1/service-accounts/{service_account_id}/keys",
                    ))
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
            } else {
                // What `http::idempotency` accepts of a key.
                schema = schema
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$"));
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
        for (method, operation) in operations(openapi) {
            if method != "get" {
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .extend(headers.iter().cloned());
            }
        }
    }
}

/// Every operation of the document, with its method (the API's methods:
/// GET for reads, POST, PUT, PATCH and DELETE for commands).
fn operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ]
        .into_iter()
        .filter_map(|(method, operation)| operation.as_mut().map(|o| (method, o)))
    })
}

/// Every operation needs a bearer token unless its annotation says it is
/// public (`security(())`, which documents as `[{}]`): said once here
/// rather than on each of the signed-in routes, so a new route is
/// documented as secured unless it opts out.
struct SignedInByDefault;

impl Modify for SignedInByDefault {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (_, operation) in operations(openapi) {
            operation.security.get_or_insert_with(|| {
                vec![SecurityRequirement::new("bearer", Vec::<String>::new())]
            });
        }
    }
}

/// `GET /openapi.json`: the document of the routes the router was built
/// from (`http::api_routes`), with the command headers and the default
/// security added, made once.
pub fn serve(mut document: utoipa::openapi::OpenApi) -> MethodRouter<AppState> {
    CommandHeaders.modify(&mut document);
    SignedInByDefault.modify(&mut document);
    // Made of our own types at start-up: a failure is a bug, found by the
    // first test that starts the service.
    #[allow(clippy::expect_used)]
    let body = Bytes::from(serde_json::to_vec(&document).expect("the OpenAPI document serializes"));
    get(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    })
}
