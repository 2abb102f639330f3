//! Extractors whose rejections use the E2B error body. JSON bodies: empty reads as `{}` (pause and
//! connect bodies are optional and some SDK versions send none), malformed JSON or an unknown field
//! where the type forbids one is a 400 naming the problem, an oversized body a 413.

use super::error::E2bError;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// `Json<T>` with E2B rejections.
pub(crate) struct E2bJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for E2bJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = E2bError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        crate::extract::json_body(req, state)
            .await
            .map(E2bJson)
            .map_err(|(code, msg)| E2bError::new(code, msg))
    }
}

/// `Path<T>` with E2B rejections.
pub(crate) struct E2bPath<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for E2bPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = E2bError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| E2bPath(v))
            .map_err(|e| E2bError::invalid(format!("invalid path parameter: {e}")))
    }
}

/// The query string as decoded pairs, in order, with E2B rejections.
pub(crate) struct E2bQuery(pub(crate) Vec<(String, String)>);

impl<S> FromRequestParts<S> for E2bQuery
where
    S: Send + Sync,
{
    type Rejection = E2bError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| E2bQuery(v))
            .map_err(|e| E2bError::invalid(format!("invalid query string: {}", e.body_text())))
    }
}
