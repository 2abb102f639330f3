//! The OpenAPI 3.1 document, generated from the handlers' annotations and the `cove-api` types.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Cove API", description = "Cove's native API: sandboxes, exec and files."),
    paths(
        crate::routes::health::healthz,
        crate::routes::sandboxes::create,
        crate::routes::sandboxes::list,
        crate::routes::sandboxes::get_one,
        crate::routes::sandboxes::delete,
        crate::routes::sandboxes::set_timeout,
        crate::routes::sandboxes::logs,
        crate::routes::exec::exec,
        crate::routes::code::execute,
        crate::routes::code::languages,
        crate::routes::code::list_contexts,
        crate::routes::code::create_context,
        crate::routes::code::restart_context,
        crate::routes::code::delete_context,
        crate::routes::commands::start,
        crate::routes::commands::list,
        crate::routes::commands::get_one,
        crate::routes::commands::logs,
        crate::routes::commands::stdin,
        crate::routes::commands::signal,
        crate::routes::commands::kill,
        crate::routes::shell::shell,
        crate::routes::git::clone,
        crate::routes::pools::list,
        crate::routes::pools::set,
        crate::routes::pools::get_one,
        crate::routes::pools::delete,
        crate::routes::pools::sandboxes,
        crate::routes::files::list_or_read,
        crate::routes::files::read_raw,
        crate::routes::files::download,
        crate::routes::files::write_raw,
        crate::routes::files::delete_path,
        crate::routes::files::stat,
        crate::routes::files::write_batch,
        crate::routes::files::mkdir,
        crate::routes::files::rename,
        crate::routes::keys::create,
        crate::routes::keys::list,
        crate::routes::templates::create,
        crate::routes::templates::list,
        crate::routes::templates::get_one,
        crate::routes::templates::delete,
        crate::routes::templates::build_log,
    ),
    components(schemas(cove_api::FileContent)),
    modifiers(&Security),
    security(("bearer" = []), ("apiKey" = []))
)]
pub(crate) struct ApiDoc;

/// `GET /v1/openapi.json`.
pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
