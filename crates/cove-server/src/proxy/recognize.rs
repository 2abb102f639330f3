//! Deciding, from the request line and headers alone, whether a request is sandbox traffic and
//! where it goes. Pure functions, so every rule is unit-tested without a sandbox.
//!
//! Precedence (first match wins):
//! 1. `Host: {port}-{sandboxID}.{domain}`: the address itself names the sandbox (`get_host()`,
//!    SDKs without `E2B_SANDBOX_URL`);
//! 2. path `/sandboxes/router/{sandboxID}/{port}/…`, prefix stripped;
//! 3. `E2b-Sandbox-Id` (+ `E2b-Sandbox-Port`, default envd) headers: single-URL mode;
//! 4. fallbacks for clients that omit the headers: envd paths with `X-Access-Token`, `/files` with
//!    a v1 signature, Jupyter paths with `X-Access-Token`;
//! 5. a bare `GET /health` is the API's own health check;
//! 6. everything else is API traffic.

use http::{HeaderMap, Method, Uri};

/// envd's port; everything else is reached through the agent's TCP tunnel.
pub(crate) const ENVD_PORT: u16 = 49983;
/// The code interpreter's port.
pub(crate) const JUPYTER_PORT: u16 = 49999;

const ROUTER_PREFIX: &str = "/sandboxes/router/";

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A named sandbox and port; `uri` is what the sandbox should see.
    Sandbox { id: String, port: u16, uri: Uri },
    /// The sandbox whose access token the request carries.
    Token { token: String, port: u16 },
    /// The sandbox whose token signed this `/files` URL.
    Signature(SignedFile),
    /// `GET /health` without any sandbox hint.
    ApiHealth,
    /// Not sandbox traffic.
    Api,
}

/// The signed fields of an E2B `/files` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedFile {
    pub(crate) path: String,
    pub(crate) operation: &'static str,
    pub(crate) username: String,
    pub(crate) expiration: Option<String>,
    pub(crate) signature: String,
}

/// A request that names a sandbox but does so wrongly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadTarget(pub(crate) String);

fn parse_port(s: &str) -> Option<u16> {
    // `u16::from_str` accepts a leading `+`; a port is digits only.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

fn is_sandbox_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Host without its `:port` (IPv6 literals keep their brackets).
fn host_part(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map(|i| &authority[..=i])
            .unwrap_or(authority);
    }
    authority
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(authority)
}

fn by_host(uri: &Uri, headers: &HeaderMap, domain: &str) -> Option<(String, u16)> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))?
        .to_ascii_lowercase();
    let (label, rest) = host.split_once('.')?;
    // The port of the listener may differ from the one in `--domain` (a reverse proxy in front),
    // so only the host names are compared.
    if host_part(rest) != host_part(&domain.to_ascii_lowercase()) {
        return None;
    }
    let (port, id) = label.split_once('-')?;
    let port = parse_port(port)?;
    is_sandbox_id(id).then(|| (id.to_string(), port))
}

/// `/sandboxes/router/{id}/{port}/rest?q` → (id, port, `/rest?q`).
fn by_router_path(uri: &Uri) -> Option<Result<(String, u16, Uri), BadTarget>> {
    let rest = uri.path().strip_prefix(ROUTER_PREFIX)?;
    let (id, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let (port, rest) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(port) = parse_port(port) else {
        return Some(Err(BadTarget(format!(
            "expected {ROUTER_PREFIX}{{sandboxID}}/{{port}}/…"
        ))));
    };
    if !is_sandbox_id(id) {
        return Some(Err(BadTarget(format!("invalid sandbox id {id:?}"))));
    }
    let pq = match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    Some(
        pq.parse::<Uri>()
            .map(|u| (id.to_string(), port, u))
            .map_err(|e| BadTarget(format!("invalid path: {e}"))),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn by_headers(headers: &HeaderMap) -> Option<Result<(String, u16), BadTarget>> {
    let id = header(headers, "e2b-sandbox-id")?;
    let port = match header(headers, "e2b-sandbox-port") {
        None => ENVD_PORT,
        Some(p) => match parse_port(p) {
            Some(p) => p,
            None => return Some(Err(BadTarget(format!("invalid E2b-Sandbox-Port {p:?}")))),
        },
    };
    if !is_sandbox_id(id) {
        return Some(Err(BadTarget(format!("invalid E2b-Sandbox-Id {id:?}"))));
    }
    Some(Ok((id.to_string(), port)))
}

/// Paths served by envd (the agent).
pub(crate) fn is_envd_path(path: &str) -> bool {
    path.starts_with("/process.Process/")
        || path.starts_with("/filesystem.Filesystem/")
        || matches!(path, "/files" | "/health" | "/envs" | "/metrics")
}

fn is_jupyter_path(path: &str) -> bool {
    path == "/execute" || path == "/contexts" || path.starts_with("/contexts/")
}

fn signed_file(method: &Method, uri: &Uri) -> Option<SignedFile> {
    use std::collections::HashMap;
    let axum::extract::Query(mut q) =
        axum::extract::Query::<HashMap<String, String>>::try_from_uri(uri).ok()?;
    let signature = q.remove("signature")?;
    Some(SignedFile {
        path: q.remove("path").unwrap_or_default(),
        // The same mapping as the agent's verifier: reads are GETs, anything else writes.
        operation: if *method == Method::GET {
            "read"
        } else {
            "write"
        },
        username: q.remove("username").unwrap_or_default(),
        expiration: q.remove("signature_expiration"),
        signature,
    })
}

/// Classifies one request. `domain` is the configured sandbox domain.
pub(crate) fn recognize(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    domain: &str,
) -> Result<Target, BadTarget> {
    if let Some((id, port)) = by_host(uri, headers, domain) {
        return Ok(Target::Sandbox {
            id,
            port,
            uri: origin_form(uri),
        });
    }
    if let Some(r) = by_router_path(uri) {
        let (id, port, uri) = r?;
        return Ok(Target::Sandbox { id, port, uri });
    }
    // The E2B REST API is always API traffic: some SDK versions (e.g. 2.20) send the sandbox
    // headers on control-plane calls such as `POST /sandboxes/{id}/connect` too.
    if uri.path().starts_with("/e2b/") {
        return Ok(Target::Api);
    }
    if let Some(r) = by_headers(headers) {
        let (id, port) = r?;
        return Ok(Target::Sandbox {
            id,
            port,
            uri: origin_form(uri),
        });
    }
    let path = uri.path();
    let token = header(headers, "x-access-token");
    if is_envd_path(path) {
        if let Some(token) = token {
            return Ok(Target::Token {
                token: token.to_string(),
                port: ENVD_PORT,
            });
        }
        if path == "/files" {
            if let Some(signed) = signed_file(method, uri) {
                return Ok(Target::Signature(signed));
            }
        }
        if path == "/health" && (*method == Method::GET || *method == Method::HEAD) {
            return Ok(Target::ApiHealth);
        }
        return Ok(Target::Api);
    }
    if is_jupyter_path(path) {
        if let Some(token) = token {
            return Ok(Target::Token {
                token: token.to_string(),
                port: JUPYTER_PORT,
            });
        }
    }
    Ok(Target::Api)
}

/// The path and query only: what an origin server expects on its request line.
pub(crate) fn origin_form(uri: &Uri) -> Uri {
    uri.path_and_query()
        .map(|pq| Uri::from(pq.clone()))
        .unwrap_or_else(|| Uri::from_static("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const ID: &str = "abcdefghij0123456789";
    const DOMAIN: &str = "127.0.0.1:3000";

    fn rec(method: Method, uri: &str, headers: &[(&'static str, &str)]) -> Target {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        recognize(&method, &uri.parse().expect("uri"), &h, DOMAIN).expect("recognize")
    }

    fn sandbox(id: &str, port: u16, uri: &str) -> Target {
        Target::Sandbox {
            id: id.into(),
            port,
            uri: uri.parse().expect("uri"),
        }
    }

    #[test]
    fn host_routing() {
        let host = format!("49983-{ID}.127.0.0.1:3000");
        assert_eq!(
            rec(Method::POST, "/process.Process/Start", &[("host", &host)]),
            sandbox(ID, 49983, "/process.Process/Start")
        );
        // Another listener port in front of the same domain.
        let host = format!("8000-{ID}.127.0.0.1");
        assert_eq!(
            rec(Method::GET, "/a?b=c", &[("host", &host)]),
            sandbox(ID, 8000, "/a?b=c")
        );
        // Host wins over the headers.
        assert_eq!(
            rec(
                Method::GET,
                "/x",
                &[("host", &host), ("e2b-sandbox-id", "other")]
            ),
            sandbox(ID, 8000, "/x")
        );
        // Not our domain, or not a `{port}-{id}` label: API traffic.
        let other = format!("8000-{ID}.example.com");
        assert_eq!(rec(Method::GET, "/x", &[("host", &other)]), Target::Api);
        assert_eq!(
            rec(Method::GET, "/x", &[("host", "api.127.0.0.1:3000")]),
            Target::Api
        );
        assert_eq!(
            rec(Method::GET, "/x", &[("host", "127.0.0.1:3000")]),
            Target::Api
        );
        let upper = format!("8000-{}.127.0.0.1", ID.to_uppercase());
        assert_eq!(
            rec(Method::GET, "/x", &[("host", &upper)]),
            sandbox(ID, 8000, "/x")
        );
    }

    #[test]
    fn router_path() {
        assert_eq!(
            rec(
                Method::GET,
                &format!("/sandboxes/router/{ID}/8000/a/b?x=1"),
                &[]
            ),
            sandbox(ID, 8000, "/a/b?x=1")
        );
        assert_eq!(
            rec(Method::GET, &format!("/sandboxes/router/{ID}/8000"), &[]),
            sandbox(ID, 8000, "/")
        );
        assert_eq!(
            rec(Method::GET, &format!("/sandboxes/router/{ID}/8000/"), &[]),
            sandbox(ID, 8000, "/")
        );
        let h = HeaderMap::new();
        for bad in [
            format!("/sandboxes/router/{ID}/x/"),
            format!("/sandboxes/router/{ID}"),
            "/sandboxes/router/UP/80/".to_string(),
            format!("/sandboxes/router/{ID}/70000/"),
        ] {
            assert!(
                recognize(&Method::GET, &bad.parse().expect("uri"), &h, DOMAIN).is_err(),
                "{bad}"
            );
        }
        // The E2B REST API's own `/sandboxes/{id}` paths are not captured.
        assert_eq!(
            rec(Method::GET, &format!("/sandboxes/{ID}"), &[]),
            Target::Api
        );
    }

    #[test]
    fn header_routing() {
        assert_eq!(
            rec(
                Method::POST,
                "/filesystem.Filesystem/ListDir",
                &[("e2b-sandbox-id", ID)]
            ),
            sandbox(ID, ENVD_PORT, "/filesystem.Filesystem/ListDir")
        );
        assert_eq!(
            rec(
                Method::POST,
                "/execute",
                &[("e2b-sandbox-id", ID), ("e2b-sandbox-port", "49999")]
            ),
            sandbox(ID, JUPYTER_PORT, "/execute")
        );
        let h = {
            let mut h = HeaderMap::new();
            h.insert("e2b-sandbox-id", HeaderValue::from_static(ID));
            h.insert("e2b-sandbox-port", HeaderValue::from_static("+80"));
            h
        };
        assert!(recognize(&Method::GET, &Uri::from_static("/"), &h, DOMAIN).is_err());
    }

    #[test]
    fn fallbacks() {
        assert_eq!(
            rec(
                Method::POST,
                "/process.Process/Start",
                &[("x-access-token", "t")]
            ),
            Target::Token {
                token: "t".into(),
                port: ENVD_PORT
            }
        );
        assert_eq!(
            rec(Method::GET, "/health", &[("x-access-token", "t")]),
            Target::Token {
                token: "t".into(),
                port: ENVD_PORT
            }
        );
        assert_eq!(
            rec(Method::POST, "/execute", &[("x-access-token", "t")]),
            Target::Token {
                token: "t".into(),
                port: JUPYTER_PORT
            }
        );
        // No way to tell which sandbox: the API answers.
        assert_eq!(rec(Method::POST, "/contexts", &[]), Target::Api);
        assert_eq!(
            rec(Method::POST, "/process.Process/Start", &[]),
            Target::Api
        );
        // Tokens on API paths mean nothing to the proxy.
        assert_eq!(
            rec(Method::GET, "/v1/sandboxes", &[("x-access-token", "t")]),
            Target::Api
        );
    }

    #[test]
    fn bare_health_is_the_api() {
        assert_eq!(rec(Method::GET, "/health", &[]), Target::ApiHealth);
        assert_eq!(rec(Method::HEAD, "/health", &[]), Target::ApiHealth);
        assert_eq!(
            rec(Method::GET, "/health", &[("e2b-sandbox-id", ID)]),
            sandbox(ID, ENVD_PORT, "/health")
        );
    }

    #[test]
    fn signed_urls() {
        let t = rec(
            Method::GET,
            "/files?path=%2Fhome%2Fuser%2Fa.txt&username=user&signature=v1_ab%2Fc&signature_expiration=9",
            &[],
        );
        assert_eq!(
            t,
            Target::Signature(SignedFile {
                path: "/home/user/a.txt".into(),
                operation: "read",
                username: "user".into(),
                expiration: Some("9".into()),
                signature: "v1_ab/c".into(),
            })
        );
        let Target::Signature(s) = rec(Method::POST, "/files?path=a&signature=s", &[]) else {
            panic!("not a signature route");
        };
        assert_eq!(s.operation, "write");
        assert_eq!(rec(Method::GET, "/files?path=a", &[]), Target::Api);
    }
}
