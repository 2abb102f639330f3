//! Every endpoint but `/healthz` requires a key.

use crate::harness::{assert_error, can_run, Server};

#[test]
fn keys_are_required_everywhere_but_healthz() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let c = &s.http;
    let routes = [
        ("GET", "/v1/sandboxes"),
        ("POST", "/v1/sandboxes"),
        ("GET", "/v1/sandboxes/aaaaaaaaaaaaaaaaaaaa"),
        ("DELETE", "/v1/sandboxes/aaaaaaaaaaaaaaaaaaaa"),
        ("POST", "/v1/sandboxes/aaaaaaaaaaaaaaaaaaaa/exec"),
        ("GET", "/v1/sandboxes/aaaaaaaaaaaaaaaaaaaa/files?path=/"),
        ("PUT", "/v1/sandboxes/aaaaaaaaaaaaaaaaaaaa/file?path=x"),
        ("GET", "/v1/openapi.json"),
    ];
    for (m, p) in routes {
        let method: reqwest::Method = m.parse().unwrap_or(reqwest::Method::GET);
        let url = format!("{}{}", s.url, p);
        let none = c.request(method.clone(), &url).send().expect("send");
        assert_error(none, 401, "unauthenticated");
        let wrong = c
            .request(method.clone(), &url)
            .bearer_auth("cove_wrong_key_000000000000000000000")
            .send()
            .expect("send");
        assert_error(wrong, 401, "unauthenticated");
    }
    let ok = c.get(format!("{}/healthz", s.url)).send().expect("send");
    assert_eq!(ok.status().as_u16(), 200);
    let via_header = c
        .get(format!("{}/v1/sandboxes", s.url))
        .header("X-API-Key", crate::harness::KEY)
        .send()
        .expect("send");
    assert_eq!(via_header.status().as_u16(), 200);
}

#[test]
fn api_keys_can_be_issued() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let r = s.post(
        "/v1/api-keys",
        serde_json::json!({"name": "sdk", "format": "e2b"}),
    );
    assert_eq!(r.status().as_u16(), 201);
    let v: serde_json::Value = r.json().unwrap_or_default();
    let secret = v["secret"].as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("e2b_") && secret.len() == 44, "{secret}");
    assert!(secret[4..]
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let ok = s
        .http
        .get(format!("{}/v1/sandboxes", s.url))
        .header("X-API-Key", &secret)
        .send()
        .expect("send");
    assert_eq!(ok.status().as_u16(), 200);
    let list = s.get("/v1/api-keys").text().unwrap_or_default();
    assert!(
        list.contains("\"sdk\"") && !list.contains(&secret),
        "{list}"
    );
    assert_error(
        s.post(
            "/v1/api-keys",
            serde_json::json!({"name": "x", "format": "pgp"}),
        ),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/api-keys", serde_json::json!({"name": ""})),
        400,
        "invalid_argument",
    );
}
