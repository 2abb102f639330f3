//! The `cove` CLI against a live server: create, exec (exit codes pass through), files, rm.

use crate::harness::{bin, can_run, Server, KEY};
use serde_json::Value;
use std::process::{Command, Output};

fn cove(s: &Server, args: &[&str]) -> Output {
    Command::new(bin("cove"))
        .args(args)
        .env("COVE_URL", &s.url)
        .env("COVE_API_KEY", KEY)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run cove")
}

#[test]
fn cli_round_trip() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let out = cove(s, &["--json", "sandbox", "create", "--env", "WHO=cli"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let id = v["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 20, "{v}");

    let out = cove(
        s,
        &["sandbox", "exec", &id, "--", "python3", "-c", "print(6*7)"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
    assert_eq!(out.status.code(), Some(0));
    let out = cove(
        s,
        &["sandbox", "exec", &id, "--shell", "--", "echo $WHO; exit 3"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "cli\n");
    assert_eq!(out.status.code(), Some(3));

    let local = std::env::temp_dir().join(format!("cove-cli-{}", crate::harness::cove_rand()));
    std::fs::write(&local, "from the host").expect("write");
    let local_s = local.display().to_string();
    let out = cove(s, &["files", "put", &id, &local_s, "up/loaded.txt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cove(s, &["files", "cat", &id, "up/loaded.txt"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from the host");
    let out = cove(s, &["files", "ls", &id, "up"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("loaded.txt"));
    let _ = std::fs::remove_file(&local);

    let out = cove(s, &["sandbox", "ls"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    let out = cove(s, &["sandbox", "rm", &id]);
    assert!(out.status.success());
    let out = cove(s, &["sandbox", "get", "zzzzzzzzzzzzzzzzzzzz"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_found"));
}
