//! Isolation: host files and processes are invisible, sandboxes cannot reach each other's agent,
//! and fork/memory/disk bombs stay inside their limits.

use crate::harness::{can_run, cove_rand, Server};
use serde_json::json;

#[test]
fn host_is_invisible() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let marker = format!("cove-marker-{}", cove_rand());
    let host_paths = [
        format!("/tmp/{marker}"),
        format!("/root/{marker}"),
        format!("/var/{marker}"),
    ];
    for p in &host_paths {
        std::fs::write(p, "secret").expect("marker");
    }
    let a = s.sandbox(json!({}));
    let b = s.sandbox(json!({}));
    for p in &host_paths {
        let v = a.exec(json!({"command": format!("test -e {p}"), "user": "root"}));
        assert_ne!(v["exitCode"], 0, "{p} visible in sandbox");
    }
    for p in &host_paths {
        let _ = std::fs::remove_file(p);
    }
    // no trace of the host's data dir or of the server's database
    let data = s.data_dir.display().to_string();
    assert_ne!(
        a.exec(json!({"command": format!("ls {data}"), "user": "root"}))["exitCode"],
        0
    );

    // own pid namespace: PID 1 is the agent, and only a few processes exist
    let comm = a.out("cat /proc/1/comm");
    assert!(comm.starts_with("cove-agent"), "pid 1 is {comm}");
    let n: usize = a.out("ls -d /proc/[0-9]* | wc -l").parse().unwrap_or(999);
    assert!(n < 20, "{n} processes visible");
    let server_pid = std::process::id();
    assert_ne!(
        a.sh(&format!("test -e /proc/{server_pid}/cmdline"))["exitCode"],
        0
    );

    // own network namespace with only loopback
    assert_eq!(a.out("ls /sys/class/net"), "lo");
    // hostname is the sandbox id
    assert_eq!(a.out("hostname"), a.id);

    // the other sandbox's agent socket is nowhere to be found
    let b_socket = s
        .data_dir
        .join(format!("runtime/sandboxes/{}/run/agent.sock", b.id));
    assert!(
        b_socket.exists(),
        "expected b's socket on the host at {}",
        b_socket.display()
    );
    let v = a.exec(json!({"command": format!("test -e {}", b_socket.display()), "user": "root"}));
    assert_ne!(v["exitCode"], 0);
    let v = a.exec(json!({"command": "ls /.cove/run", "user": "root"}));
    assert_eq!(v["stdout"], "agent.sock\n");
    // the socket dir is root-only: unprivileged sandbox users cannot drive the agent directly
    assert_ne!(a.sh("ls /.cove/run")["exitCode"], 0);
    let found = a.exec(json!({"command": "find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -name agent.sock -print 2>/dev/null | grep -c . || true", "user": "root"}));
    assert_eq!(found["stdout"].as_str().map(str::trim), Some("1"));

    // privileged operations are refused even for root in the sandbox
    let v = a.exec(json!({"command": "mount -t tmpfs none /mnt", "user": "root"}));
    assert_ne!(v["exitCode"], 0);
    let v = a.exec(json!({"command": "echo 1 > /proc/sys/kernel/panic", "user": "root"}));
    assert_ne!(v["exitCode"], 0);
    let caps = a.exec(json!({"command": "grep CapEff /proc/self/status", "user": "root"}));
    assert_ne!(
        caps["stdout"].as_str().map(str::trim),
        Some("CapEff:\t000001ffffffffff"),
        "{caps}"
    );
    let nnp = a.out("grep NoNewPrivs /proc/self/status");
    assert!(nnp.ends_with('1'), "{nnp}");
}

#[test]
fn fork_bomb_hits_the_pids_limit() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let script = "import os, time, errno\nn = 0\ntry:\n    while n < 100000:\n        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print(n, e.errno)\n";
    let v = sb.exec(json!({"cmd": "python3", "args": ["-c", script], "timeoutMs": 60000}));
    let out = v["stdout"].as_str().unwrap_or_default().trim().to_string();
    let mut parts = out.split_whitespace();
    let forked: usize = parts
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    let errno = parts.next().unwrap_or_default();
    assert!(forked < 1024, "forked {forked} processes: {v}");
    assert_eq!(errno, "11", "fork should fail with EAGAIN: {v}");
    // other sandboxes are unaffected
    let other = s.sandbox(json!({}));
    assert_eq!(other.out("echo fine"), "fine");
}

#[test]
fn memory_bomb_is_contained() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({"memoryMB": 64}));
    let v = sb.exec(json!({"cmd": "python3", "args": ["-c", "b = bytearray(512 * 1024 * 1024); b[::4096] = b'x' * (len(b) // 4096); print('survived')"]}));
    assert!(
        !v["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("survived"),
        "{v}"
    );
    assert_ne!(v["exitCode"], 0);
    // the agent survives the OOM kill of its child
    assert_eq!(sb.out("echo alive"), "alive");
}

#[test]
fn disk_limit_is_enforced() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({"diskSizeMB": 64}));
    let v = sb.sh("head -c 100M /dev/zero > /home/user/big; echo rc=$?");
    let all = format!("{}{}", v["stdout"], v["stderr"]);
    assert!(all.contains("No space left"), "{v}");
    assert!(!all.contains("rc=0"), "{v}");
    assert_eq!(sb.out("rm /home/user/big && echo ok"), "ok");
}
