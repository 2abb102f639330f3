//! Access-token enforcement. Once `/init` sets a token, every request except `GET /health` must
//! carry it in `X-Access-Token`; `/files` may instead carry a v1 URL signature (E2B signed URLs).
//! Comparisons are constant-time so the token cannot be probed byte by byte.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use cove_proto::{Code, ConnectError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{HttpError, RpcError};
use crate::state::Shared;

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// `v1_` + unpadded standard base64 of sha256("path:operation:username:token[:expiration]").
pub fn sign(path: &str, operation: &str, username: &str, token: &str, exp: Option<&str>) -> String {
    let mut raw = format!("{path}:{operation}:{username}:{token}");
    if let Some(exp) = exp {
        raw.push(':');
        raw.push_str(exp);
    }
    format!(
        "v1_{}",
        STANDARD_NO_PAD.encode(Sha256::digest(raw.as_bytes()))
    )
}

fn signature_ok(req: &Request, token: &str) -> bool {
    let Ok(Query(q)) = Query::<HashMap<String, String>>::try_from_uri(req.uri()) else {
        return false;
    };
    let Some(sig) = q.get("signature") else {
        return false;
    };
    let operation = if req.method() == Method::GET {
        "read"
    } else {
        "write"
    };
    let exp = q.get("signature_expiration").map(String::as_str);
    if let Some(exp) = exp {
        match exp.parse::<i64>() {
            Ok(t) if t >= chrono::Utc::now().timestamp() => {}
            _ => return false,
        }
    }
    let path = q.get("path").map(String::as_str).unwrap_or_default();
    let user = q.get("username").map(String::as_str).unwrap_or_default();
    ct_eq(sig, &sign(path, operation, user, token, exp))
}

pub async fn middleware(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let token = st.config().access_token;
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return next.run(req).await;
    };
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    let header_ok = req
        .headers()
        .get("x-access-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| ct_eq(v, &token));
    if header_ok || (req.uri().path() == "/files" && signature_ok(&req, &token)) {
        return next.run(req).await;
    }
    let path = req.uri().path();
    if path.starts_with("/process.Process/") || path.starts_with("/filesystem.Filesystem/") {
        RpcError(ConnectError::new(
            Code::Unauthenticated,
            "unauthorized access, please provide a valid access token",
        ))
        .into_response()
    } else {
        HttpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized access, please provide a valid access token or signature",
        )
        .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_format() {
        let s = sign("/home/user/a.txt", "read", "", "tok", None);
        assert!(s.starts_with("v1_"));
        assert!(!s.contains('='));
        assert_eq!(s.len(), 3 + 43);
        assert_ne!(s, sign("/home/user/a.txt", "write", "", "tok", None));
        assert_ne!(s, sign("/home/user/a.txt", "read", "", "tok", Some("1")));
    }
}
