//! Errors of agent calls.

use cove_proto::{Code, ConnectError};
use thiserror::Error;

/// Why an agent call failed.
#[derive(Debug, Error)]
pub enum AgentError {
    /// The agent could not be reached (socket missing, refused, connection reset).
    #[error("agent unreachable: {0}")]
    Unreachable(String),
    /// The connection failed after the request was (maybe) sent: the agent exists, the exchange
    /// broke. Not retried, since the request may have had an effect.
    #[error("agent connection broke: {0}")]
    Broken(String),
    /// The agent answered with a Connect or envd error.
    #[error("{0}")]
    Rpc(ConnectError),
    /// An HTTP endpoint answered with a non-success status.
    #[error("agent returned HTTP {status}: {message}")]
    Http {
        /// Status code.
        status: u16,
        /// Message from the body.
        message: String,
    },
    /// The agent sent something that does not follow the protocol.
    #[error("agent protocol error: {0}")]
    Protocol(String),
}

impl AgentError {
    /// The Connect code this error carries (`unavailable` when the agent is unreachable).
    pub fn code(&self) -> Code {
        match self {
            AgentError::Unreachable(_) | AgentError::Broken(_) => Code::Unavailable,
            AgentError::Rpc(e) => e.code(),
            AgentError::Http { status, .. } => Code::from_http_status(*status),
            AgentError::Protocol(_) => Code::Internal,
        }
    }

    /// The human message (without the code prefix).
    pub fn message(&self) -> String {
        match self {
            AgentError::Rpc(e) => e.message.clone(),
            AgentError::Http { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// Result alias for agent calls.
pub type AgentResult<T> = Result<T, AgentError>;
