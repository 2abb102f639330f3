//! Errors of the code interpreter, and how each answers over HTTP.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::HttpError;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{0}")]
    BadRequest(String),
    #[error("context {0} not found")]
    ContextNotFound(String),
    /// No kernelspec (and no ipykernel for Python) serves the language.
    #[error("no kernel available for language '{0}'")]
    NoKernel(String),
    #[error("kernel failed to start: {0}")]
    Start(String),
    #[error("kernel did not become ready within {0} s")]
    StartTimeout(u64),
    #[error("kernel died")]
    Died,
    #[error("the kernel ignored an interrupt for {0} s")]
    Unresponsive(u64),
    #[error("jupyter protocol: {0}")]
    Protocol(String),
    #[error("zeromq: {0}")]
    Zmq(#[from] zeromq::ZmqError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl KernelError {
    pub fn encode(e: serde_json::Error) -> Self {
        KernelError::Protocol(format!("encoding message: {e}"))
    }

    pub fn decode(e: serde_json::Error) -> Self {
        KernelError::Protocol(format!("decoding message: {e}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            KernelError::BadRequest(_) => StatusCode::BAD_REQUEST,
            KernelError::ContextNotFound(_) => StatusCode::NOT_FOUND,
            // The request is well-formed but this sandbox cannot serve it: 422, not 404, so a
            // client can tell "no such context" from "install a kernel first".
            KernelError::NoKernel(_) => StatusCode::UNPROCESSABLE_ENTITY,
            KernelError::Start(_)
            | KernelError::StartTimeout(_)
            | KernelError::Died
            | KernelError::Unresponsive(_) => StatusCode::SERVICE_UNAVAILABLE,
            KernelError::Protocol(_) | KernelError::Zmq(_) | KernelError::Io(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for KernelError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("code interpreter: {self}");
        }
        HttpError::new(status, self.to_string()).into_response()
    }
}
