//! The core error: a shared code plus a message safe to show the caller.

use cove_agent_client::AgentError;
use cove_proto::Code;
use cove_runtime::RuntimeError;
use cove_store::StoreError;
use cove_types::ErrorCode;
use std::fmt;

/// A failed use case. `Internal` errors carry a detail that surfaces log but never return.
#[derive(Debug, Clone)]
pub struct CoreError {
    code: ErrorCode,
    message: String,
}

/// Result alias for core calls.
pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    /// An error with an explicit code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    /// 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    /// 409 wrong state.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, message)
    }
    /// 500; the message is for logs only.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// The shared code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message (for `Internal`, a detail meant for logs).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CoreError {}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Self::not_found(e.to_string()),
            StoreError::Conflict(m) => Self::new(ErrorCode::AlreadyExists, m),
            StoreError::Unavailable(m) => Self::unavailable(format!("store unavailable: {m}")),
            StoreError::Other(m) => Self::internal(format!("store: {m}")),
        }
    }
}

impl From<RuntimeError> for CoreError {
    fn from(e: RuntimeError) -> Self {
        Self::internal(format!("runtime: {e}"))
    }
}

/// Maps an agent failure onto the shared vocabulary; the agent's message is kept because it
/// describes the caller's mistake (missing file, bad cwd, ...).
impl From<AgentError> for CoreError {
    fn from(e: AgentError) -> Self {
        let message = e.message();
        let code = match e.code() {
            Code::InvalidArgument | Code::OutOfRange => ErrorCode::InvalidArgument,
            Code::NotFound => ErrorCode::NotFound,
            Code::AlreadyExists => ErrorCode::AlreadyExists,
            Code::PermissionDenied => ErrorCode::PermissionDenied,
            // The agent says "unauthenticated" for an unknown sandbox user: a caller mistake.
            Code::Unauthenticated => ErrorCode::InvalidArgument,
            Code::FailedPrecondition | Code::Aborted => ErrorCode::FailedPrecondition,
            Code::ResourceExhausted => ErrorCode::ResourceExhausted,
            Code::DeadlineExceeded | Code::Canceled => ErrorCode::DeadlineExceeded,
            Code::Unimplemented => ErrorCode::Unimplemented,
            Code::Unavailable => ErrorCode::Unavailable,
            Code::Unknown | Code::Internal | Code::DataLoss => ErrorCode::Internal,
        };
        let code = match &e {
            AgentError::Http { status: 507, .. } => ErrorCode::ResourceExhausted,
            AgentError::Http { status: 413, .. } => ErrorCode::PayloadTooLarge,
            _ => code,
        };
        crate::metrics::agent_error(code);
        if code == ErrorCode::Internal {
            Self::internal(format!("agent: {e}"))
        } else {
            Self::new(code, message)
        }
    }
}
