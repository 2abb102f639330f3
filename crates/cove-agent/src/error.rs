//! Error responses: envd's plain HTTP shape `{"code":<status>,"message":...}` and the Connect unary
//! shape `{"code":"<snake_case>","message":...}`, plus the mapping of I/O errors onto both.

use std::io;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cove_proto::{Code, ConnectError};

/// An error of envd's plain HTTP endpoints (`/files`, `/init`, ...).
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct HttpError {
    pub status: StatusCode,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        HttpError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn from_io(err: &io::Error, path: &str) -> Self {
        let status = match err.kind() {
            io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
            io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            _ => match err.raw_os_error() {
                Some(libc::ENOSPC) | Some(libc::EDQUOT) => StatusCode::INSUFFICIENT_STORAGE,
                Some(libc::EISDIR) | Some(libc::ENOTDIR) | Some(libc::ENAMETOOLONG) => {
                    StatusCode::BAD_REQUEST
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        };
        HttpError::new(status, format!("{path}: {err}"))
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.status.as_u16(), "message": self.message});
        (
            self.status,
            [(header::CONTENT_TYPE, cove_proto::JSON)],
            body.to_string(),
        )
            .into_response()
    }
}

/// A Connect error returned from a unary RPC.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RpcError(#[from] pub ConnectError);

impl IntoResponse for RpcError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_string());
        (status, [(header::CONTENT_TYPE, cove_proto::JSON)], body).into_response()
    }
}

/// Maps a filesystem error onto the Connect code the SDKs expect (e.g. `not_found` drives
/// `files.exists() == False`).
pub fn io_to_connect(err: &io::Error, path: &str) -> ConnectError {
    let code = match err.kind() {
        io::ErrorKind::NotFound => Code::NotFound,
        io::ErrorKind::PermissionDenied => Code::PermissionDenied,
        io::ErrorKind::AlreadyExists => Code::AlreadyExists,
        _ => match err.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => Code::ResourceExhausted,
            Some(libc::EISDIR)
            | Some(libc::ENOTDIR)
            | Some(libc::ENAMETOOLONG)
            | Some(libc::ELOOP)
            | Some(libc::EINVAL)
            | Some(libc::ENOTEMPTY) => Code::InvalidArgument,
            _ => Code::Internal,
        },
    };
    ConnectError::new(code, format!("{path}: {err}"))
}

pub fn internal(msg: impl std::fmt::Display) -> ConnectError {
    ConnectError::new(Code::Internal, msg.to_string())
}
