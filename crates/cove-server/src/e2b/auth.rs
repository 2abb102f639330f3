//! API-key middleware of the E2B surface: `X-API-Key: <key>` (what the SDKs send) or
//! `Authorization: Bearer <key>` (early 2.x SDKs and curl users). Same `KeyService` check as `/v1`,
//! but failures use the E2B error body.

use super::error::E2bError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cove_types::ErrorCode;

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(k) = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        return Some(k);
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, rest) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|k| !k.is_empty())
}

/// Rejects requests without a valid key.
pub(crate) async fn require_e2b_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match presented_key(req.headers()) {
        None => E2bError::new(
            ErrorCode::Unauthenticated,
            "missing API key: send 'X-API-Key: <key>' (E2B_API_KEY)",
        )
        .into_response(),
        Some(k) if state.keys.verify(k) => next.run(req).await,
        Some(_) => E2bError::new(ErrorCode::Unauthenticated, "invalid API key").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, axum::http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn keys() {
        assert_eq!(
            presented_key(&headers(&[("x-api-key", "e2b_1")])),
            Some("e2b_1")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer k")])),
            Some("k")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "Basic k")])),
            None
        );
        assert_eq!(presented_key(&headers(&[("x-api-key", " ")])), None);
        assert_eq!(presented_key(&headers(&[])), None);
    }
}
