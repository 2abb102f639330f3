//! The proxy's own answers. They mimic E2B's edge proxy, because the SDKs read them: a 502 whose
//! message contains "was not found" becomes `SandboxNotRunning`, "port is not open" becomes
//! `SandboxUnreachable`; everything else uses envd's `{"code":<status>,"message":…}` shape.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde_json::json;

/// Why the proxy answered instead of the sandbox.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    /// No running sandbox matches (unknown id, dead sandbox, unmatched token or signature).
    #[error("sandbox {sandbox_id:?} was not found")]
    SandboxNotFound { sandbox_id: String },
    /// The sandbox runs but nothing listens on the port.
    #[error("port {port} of sandbox {sandbox_id} is not open")]
    PortClosed { sandbox_id: String, port: u16 },
    /// The request names a sandbox in a malformed way.
    #[error("{0}")]
    BadRequest(String),
    /// A path the proxy never forwards (agent-internal endpoints).
    #[error("{0} is not reachable through the proxy")]
    Forbidden(String),
    /// The sandbox failed mid-exchange; the cause is logged, not sent.
    #[error("sandbox {sandbox_id}: {cause}")]
    Upstream { sandbox_id: String, cause: String },
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        match self {
            ProxyError::SandboxNotFound { sandbox_id } => json_response(
                StatusCode::BAD_GATEWAY,
                json!({"sandboxId": sandbox_id, "message": "The sandbox was not found", "code": 502}),
            ),
            ProxyError::PortClosed { sandbox_id, port } => json_response(
                StatusCode::BAD_GATEWAY,
                json!({
                    "sandboxId": sandbox_id,
                    "message": "The sandbox is running but port is not open",
                    "port": port,
                    "code": 502
                }),
            ),
            ProxyError::BadRequest(message) => json_response(
                StatusCode::BAD_REQUEST,
                json!({"code": 400, "message": message}),
            ),
            ProxyError::Forbidden(path) => json_response(
                StatusCode::FORBIDDEN,
                json!({"code": 403, "message": format!("{path} is not reachable through the proxy")}),
            ),
            ProxyError::Upstream { sandbox_id, cause } => {
                tracing::warn!(sandbox = %sandbox_id, %cause, "proxied request failed");
                json_response(
                    StatusCode::BAD_GATEWAY,
                    json!({
                        "sandboxId": sandbox_id,
                        "message": "The sandbox did not answer the request",
                        "code": 502
                    }),
                )
            }
        }
    }
}
