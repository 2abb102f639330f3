//! The router: `/healthz` is open, everything under `/v1` requires an API key. Each resource has
//! its own module exporting `router()`.

pub(crate) mod code;
pub(crate) mod commands;
pub(crate) mod exec;
pub(crate) mod files;
pub(crate) mod git;
pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod metrics;
pub(crate) mod pools;
pub(crate) mod sandboxes;
pub(crate) mod shell;
mod sse;
pub(crate) mod templates;

use crate::auth::require_key;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use cove_types::ErrorCode;

/// Largest JSON body accepted (batch file writes included); raw file uploads stream and have no cap.
const JSON_BODY_LIMIT: usize = 64 * 1024 * 1024;

async fn not_found() -> impl IntoResponse {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

pub(crate) fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .merge(sandboxes::router())
        .merge(exec::router())
        .merge(code::router())
        .merge(commands::router())
        .merge(shell::router())
        .merge(git::router())
        .merge(files::router())
        .merge(keys::router())
        .merge(pools::router())
        .merge(templates::router())
        .route("/v1/openapi.json", get(crate::openapi::openapi_json))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ));
    Router::new()
        .merge(health::router())
        .merge(v1)
        .merge(metrics::router(state.clone()))
        .merge(crate::e2b::router(state.clone()))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        // Sandbox traffic (envd, code interpreter, user ports) is recognised before routing and
        // forwarded to the sandbox's agent; everything else falls through to the API routes.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::proxy::dispatch,
        ))
        .with_state(state)
}
