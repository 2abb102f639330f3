//! `ApiError`: the only place the native surface picks HTTP statuses. Handlers return core errors
//! or `ApiError`s and this module turns them into `{"error":{"code","message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cove_api::{status_for, ErrorBody};
use cove_core::CoreError;
use cove_types::ErrorCode;

/// An error answered by the native API.
#[derive(Debug)]
pub(crate) struct ApiError {
    code: ErrorCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        Self::new(e.code(), e.message())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = if self.code == ErrorCode::Internal {
            // The cause may name host paths or internals: log it, answer generically.
            tracing::error!(error = %self.message, "internal error");
            "internal error; see the server log".to_string()
        } else {
            tracing::debug!(code = %self.code, message = %self.message, "request failed");
            self.message
        };
        let status = StatusCode::from_u16(status_for(self.code))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ErrorBody::new(self.code, message))).into_response()
    }
}

/// Result alias for handlers.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
