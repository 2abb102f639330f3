//! JSON bodies: an empty body reads as `{}` (every create field is optional), malformed JSON or an
//! unknown field is a 400 naming the problem, and an oversized body is a 413.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use cove_types::ErrorCode;
use serde::de::DeserializeOwned;

/// `Json<T>` with Cove's rejections.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_body(req, state)
            .await
            .map(ApiJson)
            .map_err(|(code, msg)| ApiError::new(code, msg))
    }
}

/// Reads and parses a JSON body for any surface: an empty body reads as `{}`, failures come back as
/// a code and message that each surface wraps in its own envelope.
pub(crate) async fn json_body<S, T>(req: Request, state: &S) -> Result<T, (ErrorCode, String)>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            (
                ErrorCode::PayloadTooLarge,
                "request body is too large".to_string(),
            )
        } else {
            (
                ErrorCode::InvalidArgument,
                format!("cannot read request body: {e}"),
            )
        }
    })?;
    let slice: &[u8] = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(slice).map_err(|e| {
        (
            ErrorCode::InvalidArgument,
            format!("invalid JSON body: {e}"),
        )
    })
}
