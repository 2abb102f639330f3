//! Sandbox traffic: requests addressed to a sandbox (E2B headers, `{port}-{id}.{domain}` hosts,
//! `/sandboxes/router/{id}/{port}/…` paths, envd paths with an access token) are forwarded to the
//! sandbox's agent; anything else continues to the API routes. One listener serves both, as the
//! E2B SDKs in single-URL mode send API and sandbox traffic to the same base URL.
//!
//! The proxy adds no authentication of its own on sandbox traffic, like E2B's edge proxy: envd
//! checks `X-Access-Token` (or a URL signature) itself, and user ports are public.

mod error;
mod forward;
mod recognize;

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cove_core::AgentRoute;
use error::ProxyError;
use http::StatusCode;
use recognize::{origin_form, recognize, Target};

/// Middleware in front of the router.
pub(crate) async fn dispatch(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let target = match recognize(req.method(), req.uri(), req.headers(), &state.domain) {
        Ok(t) => t,
        Err(e) => return ProxyError::BadRequest(e.0).into_response(),
    };
    let (route, port, uri) = match target {
        Target::Api => return next.run(req).await,
        // The SDKs' envd `/health` always carries a sandbox hint; without one it is a probe of
        // this server, which is up.
        Target::ApiHealth => return StatusCode::NO_CONTENT.into_response(),
        Target::Sandbox { id, port, uri } => (found(state.sandboxes.route(&id), &id), port, uri),
        Target::Token { token, port } => (
            found(state.sandboxes.route_by_token(&token), ""),
            port,
            origin_form(req.uri()),
        ),
        Target::Signature(s) => (
            found(
                state.sandboxes.route_by_file_signature(
                    &s.path,
                    s.operation,
                    &s.username,
                    s.expiration.as_deref(),
                    &s.signature,
                ),
                "",
            ),
            recognize::ENVD_PORT,
            origin_form(req.uri()),
        ),
    };
    let route = match route {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    tracing::debug!(sandbox = %route.sandbox_id, port, path = %uri.path(), "proxying");
    forward::forward(route, port, uri, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn found(route: Option<AgentRoute>, id: &str) -> Result<AgentRoute, ProxyError> {
    route.ok_or_else(|| ProxyError::SandboxNotFound {
        sandbox_id: id.to_string(),
    })
}
