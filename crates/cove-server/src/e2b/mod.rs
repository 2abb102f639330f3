//! The E2B-compatible control-plane REST API under `/e2b/v1`: a thin adapter over `cove-core`
//! so the official E2B SDKs work unchanged (`E2B_API_URL=http://HOST:PORT/e2b/v1`).

use crate::state::AppState;
use axum::Router;

/// Routes of the E2B REST surface (they carry their own auth and error envelope).
pub(crate) fn router(_state: AppState) -> Router<AppState> {
    Router::new()
}
