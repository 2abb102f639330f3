//! The client's error type and the translation of non-2xx responses into it.

use cove_api::ErrorBody;

/// Everything a [`crate::Client`] call can fail with. Wrapped causes are exposed through
/// `source()` rather than repeated in `Display`, so chain-printing reporters (anyhow's `{:#}`)
/// show each cause exactly once.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a non-2xx status.
    #[error("{code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's snake_case code, or one derived from the status when the body was not an
        /// error envelope (e.g. from a proxy).
        code: String,
        /// Human-readable explanation.
        message: String,
    },
    /// The request could not be sent or the response could not be received.
    #[error("request to the server failed")]
    Transport(#[source] reqwest::Error),
    /// A response body broke off while being streamed.
    #[error("reading the response body failed")]
    BodyRead(#[source] std::io::Error),
    /// Writing streamed bytes to the caller's sink failed; kept apart from [`Self::BodyRead`] so
    /// callers can tell a closed local pipe from a network problem.
    #[error("writing output failed")]
    Write(#[source] std::io::Error),
    /// A local file to upload could not be read.
    #[error("reading a local file failed")]
    LocalFile(#[source] std::io::Error),
    /// A 2xx body did not have the expected shape.
    #[error("unexpected response body")]
    Decode(#[source] serde_json::Error),
    /// A path expected to be a directory named a file.
    #[error("not a directory: {0}")]
    NotADirectory(String),
    /// The base URL (or a URL derived from it) is unusable.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        ClientError::Transport(e)
    }
}

/// Builds the error of a non-2xx response from its status and raw body.
pub(crate) fn api_error(status: u16, body: &[u8]) -> ClientError {
    if let Ok(env) = serde_json::from_slice::<ErrorBody>(body) {
        return ClientError::Api {
            status,
            code: env.error.code,
            message: env.error.message,
        };
    }
    let code = code_for_status(status);
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("request failed")
            .to_string()
    } else {
        text.to_string()
    };
    ClientError::Api {
        status,
        code,
        message,
    }
}

/// A snake_case code for a status whose body carried none, so callers can always match on `code`.
fn code_for_status(status: u16) -> String {
    match status {
        400 => "invalid_argument".into(),
        401 => "unauthenticated".into(),
        403 => "permission_denied".into(),
        404 => "not_found".into(),
        409 => "conflict".into(),
        413 => "payload_too_large".into(),
        429 => "resource_exhausted".into(),
        501 => "unimplemented".into(),
        503 => "unavailable".into(),
        504 => "deadline_exceeded".into(),
        s => format!("http_{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_envelope() {
        let e = api_error(
            404,
            br#"{"error":{"code":"not_found","message":"no sandbox abc"}}"#,
        );
        match e {
            ClientError::Api {
                status,
                code,
                message,
            } => {
                assert_eq!(status, 404);
                assert_eq!(code, "not_found");
                assert_eq!(message, "no sandbox abc");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn falls_back_to_raw_text() {
        let e = api_error(502, b"  upstream down\n");
        match e {
            ClientError::Api { code, message, .. } => {
                assert_eq!(code, "http_502");
                assert_eq!(message, "upstream down");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_body_uses_reason() {
        let e = api_error(404, b"");
        assert_eq!(e.to_string(), "not_found: Not Found");
    }
}
