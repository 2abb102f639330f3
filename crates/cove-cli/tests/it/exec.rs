//! Exec: shell and argv forms, exit codes, env, cwd, user, stdin, timeouts, caps, bad commands.

use crate::harness::{assert_error, can_run, Server};
use serde_json::json;

#[test]
fn exec_semantics() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({"envs": {"GLOBAL_VAR": "g"}}));

    assert_eq!(sb.out("python3 -c 'print(6*7)'"), "42");
    let v = sb
        .exec(json!({"cmd": "python3", "args": ["-c", "import sys; print('argv'); sys.exit(3)"]}));
    assert_eq!(v["exitCode"], 3);
    assert_eq!(v["stdout"], "argv\n");
    assert!(v["durationMs"].is_u64());

    let v = sb.sh("echo out; echo err >&2; exit 5");
    assert_eq!(
        (
            v["stdout"].as_str(),
            v["stderr"].as_str(),
            v["exitCode"].as_i64()
        ),
        (Some("out\n"), Some("err\n"), Some(5))
    );

    let v = sb.exec(json!({"command": "echo $GLOBAL_VAR-$LOCAL_VAR", "envs": {"LOCAL_VAR": "l"}}));
    assert_eq!(v["stdout"], "g-l\n");

    sb.out("mkdir -p /home/user/work/sub");
    let v = sb.exec(json!({"command": "pwd", "cwd": "work/sub"}));
    assert_eq!(v["stdout"], "/home/user/work/sub\n");
    assert_eq!(sb.out("whoami"), "user");
    let v = sb.exec(json!({"command": "id -u", "user": "root"}));
    assert_eq!(v["stdout"], "0\n");

    let v = sb.exec(json!({"command": "tr a-z A-Z", "stdin": "shout\n"}));
    assert_eq!(v["stdout"], "SHOUT\n");

    let v = sb.exec(json!({"command": "echo started; sleep 30", "timeoutMs": 700}));
    assert_eq!(v["timedOut"], true, "{v}");
    assert_eq!(v["stdout"], "started\n");
    assert_ne!(v["exitCode"], 0);
    // the sandbox is fine afterwards
    assert_eq!(sb.out("echo still-here"), "still-here");

    // output above the cap is truncated, never buffered without bound
    let v = sb.sh("head -c 12000000 /dev/zero | tr '\\0' a");
    assert_eq!(v["truncated"], true);
    assert_eq!(v["stdout"].as_str().map(str::len), Some(10 * 1024 * 1024));

    // orphans are reaped by the agent (PID 1): no zombies accumulate
    sb.out("for i in 1 2 3 4 5; do (sleep 0.1 &) ; done; sleep 0.5");
    let zombies = sb.out("grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l");
    assert_eq!(zombies, "0");

    // precise 4xx for caller mistakes
    let m = assert_error(
        s.post(&sb.path("/exec"), json!({"cmd": "definitely-not-a-binary"})),
        400,
        "invalid_argument",
    );
    assert!(m.contains("definitely-not-a-binary"), "{m}");
    let m = assert_error(
        s.post(
            &sb.path("/exec"),
            json!({"command": "true", "cwd": "/no/such/dir"}),
        ),
        400,
        "invalid_argument",
    );
    assert!(m.contains("/no/such/dir"), "{m}");
    assert_error(
        s.post(
            &sb.path("/exec"),
            json!({"command": "true", "user": "nobody-here"}),
        ),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(&sb.path("/exec"), json!({"command": "true", "cmd": "true"})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(&sb.path("/exec"), json!({})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(
            &sb.path("/exec"),
            json!({"command": "true", "timeoutMs": 0}),
        ),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(
            &sb.path("/exec"),
            json!({"command": "true", "envs": {"A=B": "x"}}),
        ),
        400,
        "invalid_argument",
    );
}
