//! Forwarding one request to a sandbox once it is known. envd (49983) is the agent itself, so the
//! request goes straight to it over the agent channel; any other port is reached through the agent's
//! TCP tunnel, over which this side speaks HTTP/1.1 as a client (and splices the two connections
//! when the request upgrades, e.g. WebSockets). Bodies stream in both directions: nothing here
//! buffers or re-encodes, which Connect server streams and NDJSON outputs rely on.

use super::error::ProxyError;
use super::recognize::ENVD_PORT;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use cove_agent_client::{AgentBody, AgentError};
use cove_core::AgentRoute;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Extensions, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// RFC 9110 §7.6.1 connection-specific headers, plus the legacy `Proxy-Connection`.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// True for a request asking to switch protocols (WebSocket and friends).
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_has(headers, "upgrade")
}

/// Removes what belongs to one connection only; with `keep_upgrade` the `Upgrade` header and a
/// bare `Connection: upgrade` survive so the next hop can switch protocols too.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in listed.iter().chain(HOP_BY_HOP.iter()) {
        if keep_upgrade && name == header::UPGRADE {
            continue;
        }
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// Cove/E2B API credentials are for the control plane, never for the sandbox. On envd a Bearer
/// `Authorization` can only be an API key (envd reads `Basic` for the user); on user ports the
/// header belongs to the user's application and is kept.
fn strip_api_credentials(headers: &mut HeaderMap, envd: bool) {
    headers.remove("x-api-key");
    if envd {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
            });
        if bearer {
            headers.remove(header::AUTHORIZATION);
        }
    }
}

fn agent_body(body: Body) -> AgentBody {
    body.map_err(std::io::Error::other).boxed_unsync()
}

fn into_response(resp: http::Response<Incoming>) -> Response {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    Response::from_parts(parts, Body::new(body))
}

/// Turns a client request into the one the sandbox sees: its URI, HTTP/1.1, no per-connection
/// headers, no server-side extensions. Returns the pending client upgrade when it asks for one.
fn outbound(req: Request, uri: Uri, envd: bool) -> (Request<AgentBody>, Option<OnUpgrade>) {
    let (mut parts, body) = req.into_parts();
    let upgrade = !envd && is_upgrade(&parts.headers);
    let on_upgrade = if upgrade {
        parts.extensions.remove::<OnUpgrade>()
    } else {
        None
    };
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    parts.extensions = Extensions::new();
    strip_hop_by_hop(&mut parts.headers, upgrade);
    strip_api_credentials(&mut parts.headers, envd);
    (Request::from_parts(parts, agent_body(body)), on_upgrade)
}

/// Forwards `req` (already rewritten to `uri`) to `port` of the routed sandbox.
pub(crate) async fn forward(
    route: AgentRoute,
    port: u16,
    uri: Uri,
    req: Request,
) -> Result<Response, ProxyError> {
    if port == ENVD_PORT {
        envd(route, uri, req).await
    } else {
        tunnel(route, port, uri, req).await
    }
}

async fn envd(route: AgentRoute, uri: Uri, req: Request) -> Result<Response, ProxyError> {
    let path = uri.path();
    // `/init` resets the token, env and default user: only the control plane may call it. The
    // agent's own endpoints under `/_cove/` are likewise control-plane only.
    if path == "/init" || path.starts_with("/_cove/") {
        return Err(ProxyError::Forbidden(path.to_string()));
    }
    let (out, _) = outbound(req, uri, true);
    // `forward`, not `send_raw`: the agent must authenticate the client's own token (or its
    // absence), so the proxy never lends the sandbox's token to a caller.
    let resp = match route.client.forward(out).await {
        Ok(resp) => resp,
        // A broken exchange means a dead sandbox if its agent no longer answers at all, which
        // the SDKs must hear as "not found"; otherwise it is this request that failed.
        Err(AgentError::Broken(cause)) => {
            return Err(if route.client.health().await.is_err() {
                ProxyError::SandboxNotFound {
                    sandbox_id: route.sandbox_id,
                }
            } else {
                ProxyError::Upstream {
                    sandbox_id: route.sandbox_id,
                    cause,
                }
            })
        }
        Err(e) => return Err(agent_failure(&route.sandbox_id, e)),
    };
    Ok(into_response(resp))
}

fn agent_failure(sandbox_id: &str, e: AgentError) -> ProxyError {
    match e {
        // The agent's socket is gone: the sandbox died after the lookup.
        AgentError::Unreachable(_) => ProxyError::SandboxNotFound {
            sandbox_id: sandbox_id.to_string(),
        },
        other => ProxyError::Upstream {
            sandbox_id: sandbox_id.to_string(),
            cause: other.to_string(),
        },
    }
}

async fn tunnel(
    route: AgentRoute,
    port: u16,
    uri: Uri,
    req: Request,
) -> Result<Response, ProxyError> {
    let id = route.sandbox_id.clone();
    let upstream_err = |cause: String| ProxyError::Upstream {
        sandbox_id: id.clone(),
        cause,
    };
    let stream = match route.client.open_tunnel(port).await {
        Ok(s) => s,
        Err(AgentError::Http { status: 502, .. }) => {
            return Err(ProxyError::PortClosed {
                sandbox_id: route.sandbox_id,
                port,
            })
        }
        Err(e) => return Err(agent_failure(&route.sandbox_id, e)),
    };
    let (mut out, client_upgrade) = outbound(req, uri, false);
    if !out.headers().contains_key(header::HOST) {
        if let Ok(v) = HeaderValue::from_str(&format!("localhost:{port}")) {
            out.headers_mut().insert(header::HOST, v);
        }
    }
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| upstream_err(format!("handshake with port {port}: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "sandbox port connection ended with an error");
        }
    });
    let mut resp = sender
        .send_request(out)
        .await
        .map_err(|e| upstream_err(format!("request to port {port}: {e}")))?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(into_response(resp));
    }
    // The server switched protocols: hand the client the 101 and splice both connections.
    let Some(client_upgrade) = client_upgrade else {
        return Err(upstream_err(format!(
            "port {port} switched protocols without being asked"
        )));
    };
    let upstream_upgrade = hyper::upgrade::on(&mut resp);
    let sandbox_id = route.sandbox_id.clone();
    tokio::spawn(async move {
        let (client, upstream) = tokio::join!(client_upgrade, upstream_upgrade);
        match (client, upstream) {
            (Ok(client), Ok(upstream)) => {
                let mut client = TokioIo::new(client);
                let mut upstream = TokioIo::new(upstream);
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    tracing::debug!(sandbox = %sandbox_id, port, error = %e, "upgraded connection closed with an error");
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!(sandbox = %sandbox_id, port, error = %e, "upgrade failed");
            }
        }
    });
    let (parts, _) = resp.into_parts();
    Ok(Response::from_parts(parts, Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut h = headers(&[
            ("connection", "keep-alive, x-custom"),
            ("keep-alive", "timeout=5"),
            ("x-custom", "1"),
            ("transfer-encoding", "chunked"),
            ("content-type", "application/connect+json"),
            ("x-access-token", "t"),
        ]);
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 2, "{h:?}");
        assert_eq!(h["content-type"], "application/connect+json");
        assert_eq!(h["x-access-token"], "t");
    }

    #[test]
    fn upgrades_keep_their_headers() {
        let mut h = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "k"),
        ]);
        assert!(is_upgrade(&h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["sec-websocket-key"], "k");
    }

    #[test]
    fn api_credentials_never_reach_the_sandbox() {
        let mut h = headers(&[("x-api-key", "e2b_1"), ("authorization", "Bearer cove_x")]);
        strip_api_credentials(&mut h, true);
        assert!(h.is_empty());
        // envd's user selection survives.
        let mut h = headers(&[("authorization", "Basic cm9vdDo=")]);
        strip_api_credentials(&mut h, true);
        assert_eq!(h["authorization"], "Basic cm9vdDo=");
        // A user's app may use Bearer tokens of its own.
        let mut h = headers(&[("authorization", "Bearer app")]);
        strip_api_credentials(&mut h, false);
        assert_eq!(h["authorization"], "Bearer app");
    }
}
