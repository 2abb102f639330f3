//! Malformed requests get precise 4xx answers in the native envelope, never a 500.

use crate::harness::{assert_error, can_run, Server};
use serde_json::json;

#[test]
fn bad_input_gets_clear_errors() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let raw = |m: reqwest::Method, p: &str, body: &'static str| {
        s.req(m, p)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("send")
    };
    assert_error(
        raw(reqwest::Method::POST, "/v1/sandboxes", "{not json"),
        400,
        "invalid_argument",
    );
    assert_error(
        raw(reqwest::Method::POST, "/v1/sandboxes", "[]"),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"bogusField": 1})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"name": "Bad_Name"})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"name": "x".repeat(51)})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"memoryMB": 1})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"cpuCount": 0})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"diskSizeMB": 1})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"timeoutSeconds": -1})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"envs": {"": "x"}})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post("/v1/sandboxes", json!({"templateId": "no-such-template"})),
        404,
        "not_found",
    );
    assert_error(s.get("/v1/sandboxes?limit=0"), 400, "invalid_argument");
    assert_error(s.get("/v1/sandboxes?limit=abc"), 400, "invalid_argument");
    assert_error(
        s.get("/v1/sandboxes?status=sleeping"),
        400,
        "invalid_argument",
    );
    assert_error(
        s.get("/v1/sandboxes?cursor=garbage"),
        400,
        "invalid_argument",
    );
    assert_error(s.get("/v1/sandboxes?what=1"), 400, "invalid_argument");
    let unknown = "/v1/sandboxes/zzzzzzzzzzzzzzzzzzzz";
    assert_error(s.get(unknown), 404, "not_found");
    assert_error(s.delete(unknown), 404, "not_found");
    assert_error(
        s.post(&format!("{unknown}/exec"), json!({"command": "true"})),
        404,
        "not_found",
    );
    assert_error(s.get(&format!("{unknown}/files?path=/")), 404, "not_found");
    assert_error(
        s.post(&format!("{unknown}/timeout"), json!({"timeoutSeconds": 1})),
        404,
        "not_found",
    );
    assert_error(s.get("/v1/nothing-here"), 404, "not_found");
    let sb = s.sandbox(json!({}));
    assert_error(
        s.post(&sb.path("/timeout"), json!({})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(&sb.path("/timeout"), json!({"timeoutSeconds": "soon"})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(&sb.path("/files/mkdir"), json!({})),
        400,
        "invalid_argument",
    );
    // the server is still healthy
    assert_eq!(sb.out("echo ok"), "ok");
}
