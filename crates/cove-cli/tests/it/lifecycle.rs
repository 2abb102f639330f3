//! Create, get, list (filters, pagination), timeouts and the reaper, delete, logs, setup.

use crate::harness::{assert_error, can_run, cove_rand, eventually, Server};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn create_get_list_delete() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let tag = cove_rand();
    let name = format!("life-{}", &tag[tag.len() - 8..]);
    let sb = s.sandbox(json!({
        "name": name, "metadata": {"suite": tag, "n": "1"}, "envs": {"GREETING": "hi"},
        "cpuCount": 1, "memoryMB": 256, "diskSizeMB": 128
    }));
    let v = &sb.info;
    assert_eq!(v["status"], "running");
    assert_eq!(v["name"], name);
    assert_eq!(v["templateId"], "base");
    assert_eq!(v["memoryMB"], 256);
    assert_eq!(v["diskSizeMB"], 128);
    assert_eq!(sb.id.len(), 20);
    assert!(sb
        .id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert!(v["endAt"].is_string(), "default timeout sets endAt: {v}");
    assert!(v["startedAt"].is_string());
    assert!(v["error"].is_null());
    assert_eq!(sb.out("echo $GREETING"), "hi");

    // by id and by name
    let by_id: Value = s
        .get(&format!("/v1/sandboxes/{}", sb.id))
        .json()
        .unwrap_or_default();
    assert_eq!(by_id["id"], sb.id.as_str());
    let by_name: Value = s
        .get(&format!("/v1/sandboxes/{name}"))
        .json()
        .unwrap_or_default();
    assert_eq!(by_name["id"], sb.id.as_str());

    // names are unique among live sandboxes
    assert_error(
        s.post("/v1/sandboxes", json!({"name": name})),
        409,
        "already_exists",
    );

    // more sandboxes with the same tag for filters and paging
    let b = s.sandbox(json!({"metadata": {"suite": tag, "n": "2"}}));
    let c = s.sandbox(json!({"metadata": {"suite": tag, "n": "3"}}));
    let list: Value = s
        .get(&format!(
            "/v1/sandboxes?metadata[suite]={tag}&metadata[n]=2"
        ))
        .json()
        .unwrap_or_default();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], b.id.as_str());

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("/v1/sandboxes?metadata[suite]={tag}&limit=2&status=running");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let page: Value = s.get(&url).json().unwrap_or_default();
        for it in page["items"].as_array().cloned().unwrap_or_default() {
            seen.push(it["id"].as_str().unwrap_or_default().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    seen.sort();
    let mut want = vec![sb.id.clone(), b.id.clone(), c.id.clone()];
    want.sort();
    assert_eq!(seen, want);

    // delete: 204, then killed, then idempotent
    let r = s.delete(&format!("/v1/sandboxes/{}", c.id));
    assert_eq!(r.status().as_u16(), 204);
    let dead: Value = s
        .get(&format!("/v1/sandboxes/{}", c.id))
        .json()
        .unwrap_or_default();
    assert_eq!(dead["status"], "killed");
    assert_eq!(
        s.delete(&format!("/v1/sandboxes/{}", c.id))
            .status()
            .as_u16(),
        204
    );
    let killed: Value = s
        .get(&format!(
            "/v1/sandboxes?metadata[suite]={tag}&status=killed"
        ))
        .json()
        .unwrap_or_default();
    assert_eq!(killed["items"].as_array().map(Vec::len), Some(1));
    // exec on a dead sandbox is a clear conflict
    assert_error(
        s.post(
            &format!("/v1/sandboxes/{}/exec", c.id),
            json!({"command": "true"}),
        ),
        409,
        "failed_precondition",
    );

    // the name is free again once the sandbox is dead
    drop(sb);
    let again = s.sandbox(json!({"name": name}));
    assert_eq!(again.info["name"], name);

    // lifecycle log
    let logs: Value = s.get(&again.path("/logs")).json().unwrap_or_default();
    let kinds: Vec<String> = logs["logs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|l| l["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(kinds.contains(&"created".to_string()), "{logs}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn timeout_reaper_kills_and_can_be_reset() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({"timeoutSeconds": 2}));
    let dead = eventually(Duration::from_secs(30), || {
        let v: Value = s.get(&sb.path("")).json().ok()?;
        (v["status"] == "killed").then_some(v)
    });
    assert!(dead.is_some(), "sandbox was not reaped");
    assert_error(
        s.post(&sb.path("/timeout"), json!({"timeoutSeconds": 10})),
        409,
        "failed_precondition",
    );

    // 0 disables the timer; a later timeout re-arms it
    let keep = s.sandbox(json!({"timeoutSeconds": 0}));
    assert!(keep.info["endAt"].is_null());
    let v: Value = s
        .post(&keep.path("/timeout"), json!({"timeoutSeconds": 1}))
        .json()
        .unwrap_or_default();
    assert!(v["endAt"].is_string(), "{v}");
    let dead = eventually(Duration::from_secs(30), || {
        let v: Value = s.get(&keep.path("")).json().ok()?;
        (v["status"] == "killed").then_some(())
    });
    assert!(dead.is_some(), "re-armed timeout did not fire");

    let long = s.sandbox(json!({"timeoutSeconds": 1}));
    let v: Value = s
        .post(&long.path("/timeout"), json!({"timeoutSeconds": 0}))
        .json()
        .unwrap_or_default();
    assert!(v["endAt"].is_null(), "{v}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(long.out("echo alive"), "alive");
}

#[test]
fn create_with_files_and_setup() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({
        "files": {"app/hello.txt": "hello from files", "/tmp/abs.txt": "abs"},
        "setup": ["cat app/hello.txt > app/copy.txt", "echo setup-output-marker"]
    }));
    assert_eq!(sb.out("cat /home/user/app/copy.txt"), "hello from files");
    assert_eq!(sb.out("cat /tmp/abs.txt"), "abs");
    let logs = s.get(&sb.path("/logs")).text().unwrap_or_default();
    assert!(logs.contains("setup-output-marker"), "{logs}");

    let tag = cove_rand();
    let msg = assert_error(
        s.post(
            "/v1/sandboxes",
            json!({"metadata": {"t": tag}, "setup": ["echo will-fail >&2; exit 7"]}),
        ),
        400,
        "invalid_argument",
    );
    assert!(msg.contains("will-fail") && msg.contains('7'), "{msg}");
    let list: Value = s
        .get(&format!("/v1/sandboxes?metadata[t]={tag}"))
        .json()
        .unwrap_or_default();
    assert_eq!(list["items"][0]["status"], "error", "{list}");
    assert!(list["items"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("setup"));
}

#[test]
fn health_and_openapi() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let h: Value = s
        .http
        .get(format!("{}/healthz", s.url))
        .send()
        .and_then(|r| r.json())
        .unwrap_or_default();
    assert_eq!(h["status"], "ok");
    assert!(h["version"].is_string());
    let doc: Value = s.get("/v1/openapi.json").json().unwrap_or_default();
    assert!(doc["openapi"]
        .as_str()
        .unwrap_or_default()
        .starts_with("3.1"));
    for p in [
        "/v1/sandboxes",
        "/v1/sandboxes/{id}/exec",
        "/v1/sandboxes/{id}/file",
    ] {
        assert!(doc["paths"].get(p).is_some(), "missing {p}");
    }
}

#[test]
fn a_crashed_sandbox_is_marked_error() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    // Kill the sandbox's init (the agent) behind the server's back, as a crash would.
    let st = std::process::Command::new("runc")
        .arg("--root")
        .arg(s.data_dir.join("runtime/runc"))
        .args(["kill", &sb.id, "KILL"])
        .status()
        .expect("runc kill");
    assert!(st.success());
    let v = eventually(Duration::from_secs(30), || {
        let v: Value = s.get(&sb.path("")).json().ok()?;
        (v["status"] == "error").then_some(v)
    })
    .expect("sandbox not marked error");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("exited"),
        "{v}"
    );
    assert!(
        !s.data_dir
            .join(format!("runtime/sandboxes/{}", sb.id))
            .exists(),
        "not cleaned up"
    );
    assert_error(
        s.post(&sb.path("/exec"), json!({"command": "true"})),
        409,
        "failed_precondition",
    );
}
