//! The one error-code vocabulary every surface shares. Core errors name a code; each surface maps
//! codes to its own envelope (HTTP status table in `cove-api`, Connect codes in the agent layer).

use std::fmt;

/// Canonical error codes (the google.rpc set plus `payload_too_large` and `policy_violation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed or a value is out of range.
    InvalidArgument,
    /// No or bad credentials.
    Unauthenticated,
    /// Credentials valid but not allowed.
    PermissionDenied,
    /// The addressed thing does not exist.
    NotFound,
    /// A unique name or id is taken.
    AlreadyExists,
    /// The thing is in the wrong lifecycle state for the operation.
    FailedPrecondition,
    /// Refused by a policy (e.g. a feature Cove cannot honour securely).
    PolicyViolation,
    /// A quota or rate limit was hit.
    ResourceExhausted,
    /// A deadline passed.
    DeadlineExceeded,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// A dependency (agent, database, runtime capacity) is unavailable.
    Unavailable,
    /// Not implemented.
    Unimplemented,
    /// A bug or unexpected failure; details are only logged.
    Internal,
}

impl ErrorCode {
    /// snake_case spelling used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::FailedPrecondition => "failed_precondition",
            Self::PolicyViolation => "policy_violation",
            Self::ResourceExhausted => "resource_exhausted",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unavailable => "unavailable",
            Self::Unimplemented => "unimplemented",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
