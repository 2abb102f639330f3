//! The error envelope `{"error":{"code","message"}}` and the one code → HTTP status table.

use cove_types::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of every non-2xx response of the native API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// Code and human message of an error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// snake_case code, e.g. `not_found`, `invalid_argument`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ErrorBody {
    /// Builds an envelope.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.as_str().to_string(),
                message: message.into(),
            },
        }
    }
}

/// HTTP status of each code on the native API.
pub fn status_for(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::InvalidArgument => 400,
        ErrorCode::Unauthenticated => 401,
        ErrorCode::PermissionDenied => 403,
        ErrorCode::NotFound => 404,
        ErrorCode::AlreadyExists | ErrorCode::FailedPrecondition => 409,
        ErrorCode::PayloadTooLarge => 413,
        ErrorCode::PolicyViolation => 422,
        ErrorCode::ResourceExhausted => 429,
        ErrorCode::Internal => 500,
        ErrorCode::Unimplemented => 501,
        ErrorCode::Unavailable => 503,
        ErrorCode::DeadlineExceeded => 504,
    }
}
