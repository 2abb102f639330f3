//! Connect error codes and the JSON error shapes: the unary error body and the end-stream message
//! that closes every streaming response.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Connect protocol error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Canceled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

impl Code {
    /// Every code, in the order of the Connect specification.
    pub const ALL: [Code; 16] = [
        Code::Canceled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The snake_case name used in JSON error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Canceled => "canceled",
            Code::Unknown => "unknown",
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::OutOfRange => "out_of_range",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DataLoss => "data_loss",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    /// HTTP status of a unary error response carrying this code.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Canceled => 499,
            Code::Unknown => 500,
            Code::InvalidArgument => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::FailedPrecondition => 400,
            Code::Aborted => 409,
            Code::OutOfRange => 400,
            Code::Unimplemented => 501,
            Code::Internal => 500,
            Code::Unavailable => 503,
            Code::DataLoss => 500,
            Code::Unauthenticated => 401,
        }
    }

    /// Best-effort code for a non-Connect HTTP error (e.g. a proxy answering instead of envd),
    /// following the Connect protocol's HTTP-to-code table.
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            408 | 504 => Code::DeadlineExceeded,
            429 | 502 | 503 => Code::Unavailable,
            499 => Code::Canceled,
            501 => Code::Unimplemented,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a Connect code name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown connect code {0:?}")]
pub struct UnknownCode(pub String);

impl FromStr for Code {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_string()))
    }
}

/// A Connect error as it appears on the wire: the body of a failed unary call and the `error` of an
/// end-stream message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(default)]
#[error("{code}: {message}")]
pub struct ConnectError {
    /// snake_case code name (see [`Code::as_str`]).
    pub code: String,
    pub message: String,
}

impl ConnectError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ConnectError {
            code: code.as_str().to_string(),
            message: message.into(),
        }
    }

    /// The parsed code; anything unrecognised is `unknown`, as the Connect spec prescribes.
    pub fn code(&self) -> Code {
        self.code.parse().unwrap_or(Code::Unknown)
    }

    /// HTTP status for a unary response carrying this error.
    pub fn http_status(&self) -> u16 {
        self.code().http_status()
    }
}

/// JSON of the end-stream envelope (flag 0x02): `{}` on success, `{"error":{...}}` on failure.
/// Unknown keys such as `metadata` are ignored when parsing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ConnectError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_roundtrip_and_status() {
        for c in Code::ALL {
            assert_eq!(c.as_str().parse::<Code>(), Ok(c));
        }
        assert_eq!(Code::NotFound.http_status(), 404);
        assert_eq!(Code::Canceled.http_status(), 499);
        assert_eq!(Code::FailedPrecondition.http_status(), 400);
        assert!("nope".parse::<Code>().is_err());
    }

    #[test]
    fn connect_error_json() {
        let e = ConnectError::new(Code::DeadlineExceeded, "too slow");
        let json = serde_json::to_string(&e).unwrap_or_default();
        assert_eq!(json, r#"{"code":"deadline_exceeded","message":"too slow"}"#);
        let end: EndStream = serde_json::from_str(
            r#"{"error":{"code":"not_found","message":"x"},"metadata":{"a":["b"]}}"#,
        )
        .unwrap_or_default();
        assert_eq!(end.error.map(|e| e.code()), Some(Code::NotFound));
        assert_eq!(
            serde_json::to_string(&EndStream::default()).unwrap_or_default(),
            "{}"
        );
        assert_eq!(ConnectError::default().code(), Code::Unknown);
    }
}
