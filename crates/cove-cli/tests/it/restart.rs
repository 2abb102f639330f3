//! The server restarts without losing running sandboxes; vanished ones are closed.

use crate::harness::{can_run, cove_rand, Server};
use serde_json::{json, Value};
use std::process::Command;

#[test]
fn sandboxes_survive_a_server_restart() {
    if !can_run() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("cove-it-restart-{}", cove_rand()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut s = Server::start_in(&dir, port);
    let r = s.post("/v1/sandboxes", json!({"timeoutSeconds": 0}));
    let keep: Value = r.json().unwrap_or_default();
    let keep_id = keep["id"].as_str().unwrap_or_default().to_string();
    let r = s.post("/v1/sandboxes", json!({"timeoutSeconds": 0}));
    let lost: Value = r.json().unwrap_or_default();
    let lost_id = lost["id"].as_str().unwrap_or_default().to_string();
    let v: Value = s
        .post(
            &format!("/v1/sandboxes/{keep_id}/exec"),
            json!({"command": "echo persisted > state.txt; sleep 1000 >/dev/null 2>&1 &"}),
        )
        .json()
        .unwrap_or_default();
    assert_eq!(v["exitCode"], 0, "{v}");

    s.stop();
    // While the server is down, one sandbox dies behind its back.
    let root = dir.join("runtime/runc");
    let st = Command::new("runc")
        .arg("--root")
        .arg(&root)
        .args(["kill", &lost_id, "KILL"])
        .status()
        .expect("runc kill");
    assert!(st.success());
    std::thread::sleep(std::time::Duration::from_millis(500));

    let s2 = Server::start_in(&dir, port);
    let v: Value = s2
        .post(
            &format!("/v1/sandboxes/{keep_id}/exec"),
            json!({"command": "cat state.txt; pgrep -c sleep"}),
        )
        .json()
        .unwrap_or_default();
    assert_eq!(v["stdout"], "persisted\n1\n", "{v}");
    let g: Value = s2
        .get(&format!("/v1/sandboxes/{keep_id}"))
        .json()
        .unwrap_or_default();
    assert_eq!(g["status"], "running");
    let g: Value = s2
        .get(&format!("/v1/sandboxes/{lost_id}"))
        .json()
        .unwrap_or_default();
    assert_eq!(g["status"], "error", "{g}");
    assert!(
        g["error"].as_str().unwrap_or_default().contains("restart"),
        "{g}"
    );
    // its leftovers were cleaned
    assert!(!dir.join(format!("runtime/sandboxes/{lost_id}")).exists());

    assert_eq!(
        s2.delete(&format!("/v1/sandboxes/{keep_id}"))
            .status()
            .as_u16(),
        204
    );
    assert!(!dir.join(format!("runtime/sandboxes/{keep_id}")).exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(
        !mounts.contains(dir.to_string_lossy().as_ref()),
        "mounts left behind"
    );
    drop(s2);
    let _ = std::fs::remove_dir_all(&dir);
}
