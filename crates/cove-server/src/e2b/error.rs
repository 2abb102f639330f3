//! `E2bError`: the only place the E2B surface picks HTTP statuses. Every failure on `/e2b/v1`
//! (handlers, extractors, auth, unknown routes) becomes `{"code":<status>,"message":…}`, because the
//! SDKs read `code` from the body and `message` for the exception text.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cove_api::E2bErrorBody;
use cove_core::CoreError;
use cove_types::ErrorCode;

/// An error answered by the E2B surface.
#[derive(Debug)]
pub(crate) struct E2bError {
    code: ErrorCode,
    message: String,
    /// `Should-Retry` header: the Python SDK retries 429/502/503/504 unless it reads `false`.
    should_retry: Option<bool>,
    /// A status the code table has no entry for (405).
    status: Option<StatusCode>,
}

/// Result alias for E2B handlers.
pub(crate) type E2bResult<T> = Result<T, E2bError>;

impl E2bError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            should_retry: None,
            status: None,
        }
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
    /// The sandbox does not exist or is no longer alive: E2B has no dead sandboxes, and the SDKs
    /// turn a 404 into `SandboxNotFound` (or `false` for kill).
    pub(crate) fn sandbox_not_found(id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("sandbox {id} not found"))
    }
    /// A feature Cove does not have; answered rather than ignored.
    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unimplemented, message)
    }
    /// An option Cove could only accept by weakening or misreporting a security property.
    pub(crate) fn policy(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PolicyViolation, message)
    }
    /// Overrides the status the code would map to.
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }
    pub(crate) fn is_not_found(&self) -> bool {
        self.code == ErrorCode::NotFound
    }
    /// Marks a failure of a non-idempotent call (create): a blind retry could leave two sandboxes.
    pub(crate) fn no_retry(mut self) -> Self {
        self.should_retry = Some(false);
        self
    }
}

impl From<CoreError> for E2bError {
    fn from(e: CoreError) -> Self {
        Self::new(e.code(), e.message())
    }
}

/// HTTP status of each code on the E2B surface. It differs from the native table in one place:
/// missing features are a 4xx (the SDKs raise it as a plain `SandboxException` with our message),
/// since E2B clients never expect a 501.
pub(crate) fn e2b_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidArgument | ErrorCode::Unimplemented => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists | ErrorCode::FailedPrecondition => StatusCode::CONFLICT,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PolicyViolation => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
    }
}

impl IntoResponse for E2bError {
    fn into_response(self) -> Response {
        let message = if self.code == ErrorCode::Internal {
            // The cause may name host paths or internals: log it, answer generically.
            tracing::error!(error = %self.message, "internal error (e2b)");
            "internal error; see the server log".to_string()
        } else {
            tracing::debug!(code = %self.code, message = %self.message, "e2b request failed");
            self.message
        };
        let status = self.status.unwrap_or_else(|| e2b_status(self.code));
        let body = E2bErrorBody {
            code: status.as_u16(),
            message,
            error_code: Some(self.code.as_str().to_string()),
        };
        let mut resp = (status, Json(body)).into_response();
        if let Some(retry) = self.should_retry {
            resp.headers_mut().insert(
                "should-retry",
                HeaderValue::from_static(if retry { "true" } else { "false" }),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(e2b_status(ErrorCode::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            e2b_status(ErrorCode::Unimplemented),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            e2b_status(ErrorCode::PolicyViolation),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            e2b_status(ErrorCode::FailedPrecondition),
            StatusCode::CONFLICT
        );
    }
}
