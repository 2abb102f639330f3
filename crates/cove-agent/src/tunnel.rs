//! `GET /_cove/tunnel?port=N` with `Connection: upgrade` and `Upgrade: cove-tcp`: a raw TCP tunnel
//! to `localhost:N` inside the sandbox. The control plane uses it to reach servers the user runs in
//! the sandbox (web apps, the code interpreter) without any sandbox networking: the agent lives in
//! the sandbox's network namespace, so its loopback is the sandbox's loopback.
//!
//! The port is dialled before answering, so a closed port is a plain `502` (the proxy turns it into
//! E2B's "port is not open" answer) and a `101 Switching Protocols` always means the bytes that
//! follow are the TCP stream. Access is guarded by the same token middleware as every other route.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::{Query, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::HttpError;

/// The `Upgrade` protocol token of the tunnel.
pub const PROTOCOL: &str = "cove-tcp";

/// Dials the port on IPv4 loopback, then IPv6 loopback: servers bound to `localhost` may have picked
/// either one. The IPv4 error is the one reported because that is what most servers listen on.
async fn dial(port: u16) -> std::io::Result<TcpStream> {
    match TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
        Ok(s) => Ok(s),
        Err(v4) => TcpStream::connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
            .await
            .map_err(|_| v4),
    }
}

fn wants_tunnel(req: &Request) -> bool {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(PROTOCOL));
    let connection = req
        .headers()
        .get(header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    upgrade && connection
}

pub async fn handle(Query(q): Query<HashMap<String, String>>, mut req: Request) -> Response {
    let port = match q.get("port").map(|p| p.parse::<u16>()) {
        Some(Ok(p)) if p != 0 => p,
        _ => {
            return HttpError::bad_request("query parameter port must be a number in 1..=65535")
                .into_response()
        }
    };
    if !wants_tunnel(&req) {
        return HttpError::new(
            StatusCode::UPGRADE_REQUIRED,
            format!("send Connection: upgrade and Upgrade: {PROTOCOL}"),
        )
        .into_response();
    }
    let Some(on_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
        return HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "connection cannot be upgraded",
        )
        .into_response();
    };
    let mut upstream = match dial(port).await {
        Ok(s) => s,
        Err(e) => {
            return HttpError::new(
                StatusCode::BAD_GATEWAY,
                format!("port {port} is not open: {e}"),
            )
            .into_response()
        }
    };
    // Interactive traffic (WebSockets, terminals) should not wait for Nagle.
    let _ = upstream.set_nodelay(true);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(port, error = %e, "tunnel upgrade failed");
                return;
            }
        };
        let mut downstream = TokioIo::new(upgraded);
        if let Err(e) = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await {
            // Resets by either peer are the normal way such streams end.
            tracing::debug!(port, error = %e, "tunnel closed with an error");
        }
    });
    let mut resp = StatusCode::SWITCHING_PROTOCOLS.into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    resp.headers_mut()
        .insert(header::UPGRADE, HeaderValue::from_static(PROTOCOL));
    resp
}
