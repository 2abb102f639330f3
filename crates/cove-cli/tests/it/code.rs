//! Code interpreter: Jupyter kernels inside a sandbox through `/v1/sandboxes/{id}/code-*`, and the
//! E2B `/execute` protocol on 127.0.0.1:49999 inside the sandbox. Needs ipykernel on the host
//! (`scripts/test-deps.sh`), since the `base` template reuses the host's /usr; skips without it.

use crate::harness::{assert_error, can_run, eventually, Sandbox, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn has_ipykernel() -> bool {
    let ok = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import ipykernel"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP: python3 ipykernel is not installed (run scripts/test-deps.sh)");
    }
    ok
}

fn run(sb: &Sandbox<'_>, body: Value) -> Value {
    let r = sb.server.post(&sb.path("/code-execute"), body);
    let status = r.status().as_u16();
    let v: Value = r.json().expect("json");
    assert_eq!(status, 200, "code-execute failed: {v}");
    v
}

fn code(sb: &Sandbox<'_>, source: &str) -> Value {
    run(sb, json!({ "code": source }))
}

fn in_context(sb: &Sandbox<'_>, ctx: &str, source: &str) -> Value {
    run(sb, json!({ "code": source, "contextId": ctx }))
}

fn main_text(v: &Value) -> Option<&str> {
    v["results"]
        .as_array()?
        .iter()
        .find(|r| r["isMainResult"] == true)?["text"]
        .as_str()
}

#[test]
fn code_state_output_errors_charts_timeouts() {
    if !can_run() || !has_ipykernel() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));

    let langs: Value = s.get(&sb.path("/code-languages")).json().expect("json");
    assert!(
        langs
            .as_array()
            .is_some_and(|l| l.iter().any(|k| k["language"] == "python")),
        "{langs}"
    );

    // State persists across calls in the default context.
    let v = code(&sb, "x = 41");
    assert!(v["error"].is_null(), "{v}");
    let v = code(&sb, "x + 1");
    assert_eq!(main_text(&v), Some("42"), "{v}");
    assert!(v["executionCount"].as_u64().is_some_and(|n| n >= 2), "{v}");

    let v = code(
        &sb,
        "import sys\nprint('to out')\nprint('to err', file=sys.stderr)",
    );
    assert_eq!(v["stdout"], "to out\n", "{v}");
    assert_eq!(v["stderr"], "to err\n", "{v}");
    assert_eq!(v["results"], json!([]), "{v}");

    let v = code(&sb, "undefined_name + 1");
    assert_eq!(v["error"]["name"], "NameError", "{v}");
    assert!(
        v["error"]["value"]
            .as_str()
            .is_some_and(|m| m.contains("undefined_name")),
        "{v}"
    );
    assert!(
        v["error"]["traceback"]
            .as_str()
            .is_some_and(|t| t.contains("NameError")),
        "{v}"
    );

    // Per-execution env vars are set for the cell and restored afterwards.
    let v = run(
        &sb,
        json!({"code": "import os\nprint(os.environ['COVE_CI_VAR'])", "envs": {"COVE_CI_VAR": "set"}}),
    );
    assert_eq!(v["stdout"], "set\n", "{v}");
    let v = code(&sb, "print(os.environ.get('COVE_CI_VAR'))");
    assert_eq!(v["stdout"], "None\n", "{v}");

    // A matplotlib chart comes back as a PNG display result.
    let v = code(
        &sb,
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()",
    );
    assert!(v["error"].is_null(), "{v}");
    let png = v["results"]
        .as_array()
        .and_then(|r| r.iter().find_map(|r| r["png"].as_str()))
        .unwrap_or_default();
    assert!(png.starts_with("iVBOR"), "no PNG result: {v}");

    // Rich results keep their MIME types.
    let v = code(
        &sb,
        "from IPython.display import HTML, display\ndisplay(HTML('<b>hi</b>'))\n'quoted'",
    );
    let results = v["results"].as_array().cloned().unwrap_or_default();
    assert!(
        results
            .iter()
            .any(|r| r["html"] == "<b>hi</b>" && r["isMainResult"] == false),
        "{v}"
    );
    assert_eq!(main_text(&v), Some("quoted"), "{v}");

    // A runaway cell is interrupted at its timeout; the context and its state survive.
    let v = run(&sb, json!({"code": "while True: pass", "timeoutMs": 1500}));
    assert_eq!(v["timedOut"], true, "{v}");
    assert_eq!(v["error"]["name"], "KeyboardInterrupt", "{v}");
    let v = code(&sb, "x");
    assert_eq!(main_text(&v), Some("41"), "{v}");

    // Streaming as server-sent events.
    let r = s
        .req(reqwest::Method::POST, &sb.path("/code-execute"))
        .header("Accept", "text/event-stream")
        .json(&json!({"code": "print('streamed')\nx * 2"}))
        .send()
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().expect("body");
    assert!(body.contains("event: stdout"), "{body}");
    assert!(body.contains("streamed"), "{body}");
    assert!(body.contains("event: result"), "{body}");
    assert!(body.contains("\"text\":\"82\""), "{body}");
    assert!(
        body.trim_end()
            .split("\n\n")
            .last()
            .is_some_and(|e| e.contains("event: end")),
        "{body}"
    );

    // Bad input.
    assert_error(
        s.post(
            &sb.path("/code-execute"),
            json!({"code": "1", "language": "python", "contextId": "x"}),
        ),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(
            &sb.path("/code-execute"),
            json!({"code": "1", "language": "cobol"}),
        ),
        409,
        "failed_precondition",
    );
    assert_error(
        s.post(
            &sb.path("/code-execute"),
            json!({"code": "1", "contextId": "nope"}),
        ),
        404,
        "not_found",
    );
}

#[test]
fn code_contexts_are_independent_restart_and_delete() {
    if !can_run() || !has_ipykernel() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    sb.out("mkdir -p /home/user/proj");

    let create = |body: Value| -> Value {
        let r = s.post(&sb.path("/code-contexts"), body);
        let status = r.status().as_u16();
        let v: Value = r.json().expect("json");
        assert_eq!(status, 201, "{v}");
        v
    };
    let a = create(json!({}));
    let b = create(json!({"language": "python", "cwd": "proj"}));
    let (a, b) = (
        a["id"].as_str().expect("id").to_string(),
        b["id"].as_str().expect("id").to_string(),
    );
    assert_ne!(a, b);

    in_context(&sb, &a, "v = 'a'");
    in_context(&sb, &b, "v = 'b'");
    assert_eq!(main_text(&in_context(&sb, &a, "v")), Some("a"));
    assert_eq!(main_text(&in_context(&sb, &b, "v")), Some("b"));
    let v = in_context(&sb, &b, "import os\nos.getcwd()");
    assert_eq!(main_text(&v), Some("/home/user/proj"), "{v}");
    // The default context is a third, separate one.
    assert_eq!(code(&sb, "'v' in dir()")["results"][0]["text"], "False");

    let list: Value = s.get(&sb.path("/code-contexts")).json().expect("json");
    let ids: Vec<&str> = list
        .as_array()
        .map(|l| l.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        ids.contains(&a.as_str()) && ids.contains(&b.as_str()),
        "{list}"
    );

    let r = s.post(&sb.path(&format!("/code-contexts/{a}/restart")), json!({}));
    assert_eq!(r.status().as_u16(), 204);
    let v = in_context(&sb, &a, "v");
    assert_eq!(v["error"]["name"], "NameError", "restart kept state: {v}");
    assert_eq!(main_text(&in_context(&sb, &b, "v")), Some("b"));

    let r = s.delete(&sb.path(&format!("/code-contexts/{b}")));
    assert_eq!(r.status().as_u16(), 204);
    assert_error(
        s.post(
            &sb.path("/code-execute"),
            json!({"code": "v", "contextId": b}),
        ),
        404,
        "not_found",
    );
    assert_error(
        s.delete(&sb.path(&format!("/code-contexts/{b}"))),
        404,
        "not_found",
    );
    assert_error(
        s.post(&sb.path(&format!("/code-contexts/{b}/restart")), json!({})),
        404,
        "not_found",
    );
    assert_error(
        s.post(&sb.path("/code-contexts"), json!({"language": "cobol"})),
        409,
        "failed_precondition",
    );
    // The deleted context's kernel is gone (the default one and `a` remain).
    let kernels = eventually(Duration::from_secs(10), || {
        let n = sb.out("grep -l '[i]pykernel_launcher' /proc/[0-9]*/cmdline 2>/dev/null | wc -l");
        (n == "2").then_some(n)
    });
    assert!(kernels.is_some(), "expected exactly 2 kernels left");
}

/// The E2B code-interpreter protocol as E2B SDKs see it: NDJSON on 127.0.0.1:49999 inside the
/// sandbox, without an access token.
#[test]
fn code_e2b_protocol_inside_sandbox() {
    if !can_run() || !has_ipykernel() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let script = r#"
import json, urllib.request
base = "http://127.0.0.1:49999"
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=120)
out = {}
with post("/execute", {"code": "import sys\nprint(1)\nprint('e', file=sys.stderr)\n1+1"}) as r:
    out["contentType"] = r.headers.get("Content-Type")
    out["raw"] = r.read().decode()
with post("/execute", {"code": "nope", "context_id": None, "language": None, "env_vars": None}) as r:
    out["errorRaw"] = r.read().decode()
with post("/contexts", {"language": "python", "cwd": "/home/user"}) as r:
    out["context"] = json.loads(r.read())
with urllib.request.urlopen(base + "/contexts") as r:
    out["contexts"] = json.loads(r.read())
with urllib.request.urlopen(base + "/health") as r:
    out["health"] = r.read().decode()
try:
    post("/execute", {"code": "1", "context_id": "missing"})
except urllib.error.HTTPError as e:
    out["missingStatus"] = e.code
print(json.dumps(out))
"#;
    let v = sb.exec(json!({"cmd": "python3", "args": ["-c", script], "timeoutMs": 180000}));
    assert_eq!(v["exitCode"], 0, "{v}");
    let out: Value = serde_json::from_str(v["stdout"].as_str().unwrap_or_default()).expect("json");

    let raw = out["raw"].as_str().unwrap_or_default();
    assert!(raw.ends_with('\n'), "{raw}");
    let lines: Vec<Value> = raw
        .trim_end_matches('\n')
        .split('\n')
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect();
    let types: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"number_of_executions"), "{raw}");
    assert_eq!(types.last(), Some(&"end_of_execution"), "{raw}");
    let find = |t: &str| {
        lines
            .iter()
            .find(|l| l["type"] == t)
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        find("number_of_executions")["execution_count"].is_u64(),
        "{raw}"
    );
    assert_eq!(find("stdout")["text"], "1\n", "{raw}");
    assert!(
        find("stdout")["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{raw}"
    );
    assert_eq!(find("stderr")["text"], "e\n", "{raw}");
    assert_eq!(find("result")["text"], "2", "{raw}");
    assert_eq!(find("result")["is_main_result"], true, "{raw}");

    let err_raw = out["errorRaw"].as_str().unwrap_or_default();
    let err: Value = err_raw
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["type"] == "error")
        .unwrap_or_default();
    assert_eq!(err["name"], "NameError", "{err_raw}");
    assert!(
        err["value"].is_string() && err["traceback"].is_string(),
        "{err_raw}"
    );

    assert_eq!(out["context"]["language"], "python", "{out}");
    assert_eq!(out["context"]["cwd"], "/home/user", "{out}");
    assert!(
        out["contexts"].as_array().is_some_and(|c| c.len() == 2),
        "{out}"
    );
    assert_eq!(out["health"], "OK");
    assert_eq!(out["missingStatus"], 404);
}

/// Round trip of `1+1` in a warm context, client side over HTTP to `/v1` (reported, not asserted).
#[test]
fn code_execute_round_trip() {
    if !can_run() || !has_ipykernel() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    assert_eq!(main_text(&code(&sb, "1+1")), Some("2"));
    let mut samples: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let v = code(&sb, "1+1");
            let d = t.elapsed();
            assert_eq!(main_text(&v), Some("2"), "{v}");
            d
        })
        .collect();
    samples.sort();
    eprintln!(
        "code-execute 1+1 round trip (warm, n=50): median {:?}, p90 {:?}, max {:?}",
        samples[25], samples[45], samples[49]
    );
}
