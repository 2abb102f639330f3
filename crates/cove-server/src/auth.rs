//! API-key middleware: `Authorization: Bearer <key>` or `X-API-Key: <key>`. Keys are checked in
//! constant time by `KeyService`; the key itself is never logged.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cove_types::ErrorCode;

fn presented_key(req: &Request) -> Option<&str> {
    let headers = req.headers();
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some(rest) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(rest.trim());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Rejects requests without a valid key.
pub(crate) async fn require_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match presented_key(&req) {
        None => ApiError::new(
            ErrorCode::Unauthenticated,
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
        )
        .into_response(),
        Some(k) if state.keys.verify(k) => next.run(req).await,
        Some(_) => ApiError::new(ErrorCode::Unauthenticated, "invalid API key").into_response(),
    }
}
