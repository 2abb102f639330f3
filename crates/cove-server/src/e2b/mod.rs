//! The E2B-compatible control-plane REST API under `/e2b/v1`: a thin adapter over `cove-core`
//! so the official E2B SDKs work unchanged (`E2B_API_URL=http://HOST:PORT/e2b/v1`).
//!
//! Everything under the prefix (unknown routes and wrong methods included) answers E2B's error
//! body, and everything but `/health` needs an API key.

mod auth;
mod convert;
mod create;
mod error;
mod extract;
mod list;
mod observe;
mod sandboxes;

use crate::state::AppState;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;
use cove_types::ErrorCode;
use error::E2bError;

/// Where the E2B surface is mounted.
pub(crate) const E2B_PREFIX: &str = "/e2b/v1";

async fn no_route() -> E2bError {
    E2bError::new(ErrorCode::NotFound, "no such route")
}

async fn wrong_method() -> E2bError {
    E2bError::invalid("method not allowed on this route")
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

async fn health() -> StatusCode {
    StatusCode::OK
}

/// Routes of the E2B REST surface (they carry their own auth and error envelope).
pub(crate) fn router(state: AppState) -> Router<AppState> {
    let api = Router::new()
        .route("/sandboxes", post(create::create_v1).get(list::list_v1))
        .route("/v2/sandboxes", post(create::create_v2).get(list::list_v2))
        .route("/sandboxes/metrics", get(observe::metrics_batch))
        .route(
            "/sandboxes/{id}",
            get(sandboxes::get_one).delete(sandboxes::kill),
        )
        .route("/sandboxes/{id}/timeout", post(sandboxes::set_timeout))
        .route("/sandboxes/{id}/connect", post(sandboxes::connect_v1))
        .route("/v2/sandboxes/{id}/connect", post(sandboxes::connect_v2))
        .route("/sandboxes/{id}/resume", post(sandboxes::resume))
        .route("/sandboxes/{id}/pause", post(sandboxes::pause))
        .route("/sandboxes/{id}/refreshes", post(sandboxes::refresh))
        .route("/sandboxes/{id}/network", put(sandboxes::update_network))
        .route("/sandboxes/{id}/snapshots", post(sandboxes::snapshot))
        .route("/sandboxes/{id}/fork", post(sandboxes::fork))
        .route("/snapshots", get(sandboxes::list_snapshots))
        .route("/sandboxes/{id}/metrics", get(observe::metrics))
        .route("/sandboxes/{id}/logs", get(observe::logs_v1))
        .route("/v2/sandboxes/{id}/logs", get(observe::logs_v2))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state,
            auth::require_e2b_key,
        ));
    let inner = Router::new().route("/health", get(health)).merge(api);
    Router::new().nest(E2B_PREFIX, inner)
}
