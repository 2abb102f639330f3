//! `GET /metrics`: Prometheus text exposition of the sandbox service. It sits outside `/v1` (where
//! scrapers expect it) but still requires an API key, since sandbox counts and latencies describe
//! tenants' activity; a scraper sends the key as a bearer token.

use crate::auth::require_key;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The content type Prometheus expects for the text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, TEXT_FORMAT)],
        state.sandboxes.render_metrics(),
    )
}

pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(state, require_key))
}
