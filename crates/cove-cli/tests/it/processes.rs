//! Background commands, streamed exec, the interactive shell WebSocket, and git clone.

use crate::harness::{assert_error, can_run, eventually, Server, KEY};
use serde_json::{json, Value};
use std::io::Read;
use std::time::Duration;
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

#[test]
fn background_commands() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let r = s.post(
        &sb.path("/commands"),
        json!({"command": "for i in 1 2 3; do echo line$i; sleep 0.2; done; echo oops >&2; exit 4", "tag": "counter"}),
    );
    assert_eq!(r.status().as_u16(), 201);
    let started: Value = r.json().unwrap_or_default();
    let pid = started["pid"].as_u64().unwrap_or_default();
    assert!(pid > 1, "{started}");
    assert_eq!(started["status"], "running");
    assert_eq!(started["tag"], "counter");

    // follow streams from the beginning until exit
    let mut r = s.get(&sb.path(&format!("/commands/{pid}/logs?follow=true")));
    assert_eq!(r.status().as_u16(), 200);
    let mut sse = String::new();
    r.read_to_string(&mut sse).expect("sse");
    assert!(sse.contains("event: stdout"), "{sse}");
    assert!(sse.contains("line3"), "{sse}");
    assert!(
        sse.contains("event: exit") && sse.contains("\"exitCode\":4"),
        "{sse}"
    );

    let logs: Value = s
        .get(&sb.path(&format!("/commands/{pid}/logs")))
        .json()
        .unwrap_or_default();
    assert_eq!(logs["stdout"], "line1\nline2\nline3\n");
    assert_eq!(logs["stderr"], "oops\n");
    assert_eq!(logs["status"], "exited");
    assert_eq!(logs["exitCode"], 4);
    let st: Value = s
        .get(&sb.path(&format!("/commands/{pid}")))
        .json()
        .unwrap_or_default();
    assert_eq!(st["status"], "exited");
    assert!(st["endedAt"].is_string());

    // stdin
    let cat: Value = s
        .post(&sb.path("/commands"), json!({"cmd": "cat"}))
        .json()
        .unwrap_or_default();
    let cat_pid = cat["pid"].as_u64().unwrap_or_default();
    let r = s.post(
        &sb.path(&format!("/commands/{cat_pid}/stdin")),
        json!({"data": "hello\n", "close": true}),
    );
    assert_eq!(r.status().as_u16(), 204);
    let done = eventually(Duration::from_secs(20), || {
        let v: Value = s
            .get(&sb.path(&format!("/commands/{cat_pid}/logs")))
            .json()
            .ok()?;
        (v["status"] == "exited").then_some(v)
    })
    .expect("cat did not exit");
    assert_eq!(done["stdout"], "hello\n");

    // a long-running process keeps running without any client, shows in the list, and dies on a signal
    let sleeper: Value = s
        .post(&sb.path("/commands"), json!({"command": "sleep 1000"}))
        .json()
        .unwrap_or_default();
    let spid = sleeper["pid"].as_u64().unwrap_or_default();
    std::thread::sleep(Duration::from_millis(300));
    let list: Value = s.get(&sb.path("/commands")).json().unwrap_or_default();
    let running: Vec<u64> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|c| c["status"] == "running")
        .filter_map(|c| c["pid"].as_u64())
        .collect();
    assert!(running.contains(&spid), "{list}");
    assert_error(
        s.post(
            &sb.path(&format!("/commands/{spid}/signal")),
            json!({"signal": "SIGUSR1"}),
        ),
        400,
        "invalid_argument",
    );
    let r = s.post(
        &sb.path(&format!("/commands/{spid}/signal")),
        json!({"signal": "TERM"}),
    );
    assert_eq!(r.status().as_u16(), 204);
    let ended = eventually(Duration::from_secs(20), || {
        let v: Value = s.get(&sb.path(&format!("/commands/{spid}"))).json().ok()?;
        (v["status"] == "exited").then_some(v)
    });
    assert!(ended.is_some(), "sleep did not die on SIGTERM");
    let killme: Value = s
        .post(&sb.path("/commands"), json!({"command": "sleep 1000"}))
        .json()
        .unwrap_or_default();
    let kpid = killme["pid"].as_u64().unwrap_or_default();
    assert_eq!(
        s.delete(&sb.path(&format!("/commands/{kpid}")))
            .status()
            .as_u16(),
        204
    );

    assert_error(s.get(&sb.path("/commands/999999")), 404, "not_found");
    assert_error(s.get(&sb.path("/commands/999999/logs")), 404, "not_found");
    assert_error(
        s.post(&sb.path("/commands/999999/stdin"), json!({"data": "x"})),
        404,
        "not_found",
    );
    assert_error(
        s.post(&sb.path("/commands"), json!({})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(&sb.path("/commands"), json!({"cmd": "no-such-binary-here"})),
        400,
        "invalid_argument",
    );
}

#[test]
fn streamed_exec() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let mut r = s.post(
        &sb.path("/exec"),
        json!({"command": "echo a; sleep 0.2; echo b >&2; exit 2", "stream": true}),
    );
    assert_eq!(r.status().as_u16(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .starts_with("text/event-stream"));
    let mut body = String::new();
    r.read_to_string(&mut body).expect("read");
    let a = body.find("event: stdout").unwrap_or(usize::MAX);
    let b = body.find("event: stderr").unwrap_or(usize::MAX);
    let e = body.find("event: exit").unwrap_or(usize::MAX);
    assert!(a < b && b < e && e != usize::MAX, "{body}");
    assert!(body.contains("\"exitCode\":2"), "{body}");
    // errors before the process starts are still plain 4xx answers
    assert_error(
        s.post(
            &sb.path("/exec"),
            json!({"cmd": "no-such-binary", "stream": true}),
        ),
        400,
        "invalid_argument",
    );
}

fn ws_connect(s: &Server, path: &str) -> tungstenite::WebSocket<std::net::TcpStream> {
    let url = format!("{}{}", s.url.replacen("http://", "ws://", 1), path);
    let mut req = url.as_str().into_client_request().expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {KEY}").parse().expect("header"),
    );
    let addr = s.url.trim_start_matches("http://").to_string();
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let (ws, _) = tungstenite::client(req, stream).expect("handshake");
    ws
}

/// Reads terminal output until `needle` appears (or the socket closes).
fn read_until(ws: &mut tungstenite::WebSocket<std::net::TcpStream>, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        match ws.read() {
            Ok(Message::Binary(b)) => seen.push_str(&String::from_utf8_lossy(&b)),
            Ok(Message::Text(t)) => seen.push_str(&t),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    seen
}

#[test]
fn interactive_shell() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let mut ws = ws_connect(s, &sb.path("/shell?cols=80&rows=24"));
    ws.send(Message::Binary(
        b"stty size; echo size-$((1+1))-done\n".to_vec().into(),
    ))
    .expect("send");
    let out = read_until(&mut ws, "size-2-done");
    assert!(out.contains("24 80"), "{out}");
    ws.send(Message::Text(
        json!({"type": "resize", "cols": 100, "rows": 30})
            .to_string()
            .into(),
    ))
    .expect("resize");
    ws.send(Message::Binary(
        b"stty size; echo resized-$((1+2))-done\n".to_vec().into(),
    ))
    .expect("send");
    let out = read_until(&mut ws, "resized-3-done");
    assert!(out.contains("30 100"), "{out}");
    // Ctrl-C interrupts a foreground job and the shell lives on
    ws.send(Message::Binary(b"sleep 100\n".to_vec().into()))
        .expect("send");
    std::thread::sleep(Duration::from_millis(300));
    ws.send(Message::Binary(vec![3u8].into())).expect("ctrl-c");
    ws.send(Message::Binary(b"echo after-$((40+2))\n".to_vec().into()))
        .expect("send");
    let out = read_until(&mut ws, "after-42");
    assert!(out.contains("after-42"), "{out}");
    ws.send(Message::Binary(b"whoami\nexit 7\n".to_vec().into()))
        .expect("send");
    let out = read_until(&mut ws, "\"exitCode\":7");
    assert!(out.contains("user"), "{out}");
    assert!(out.contains("\"type\":\"exit\""), "{out}");

    // two shells at once
    let mut a = ws_connect(s, &sb.path("/shell"));
    let mut b = ws_connect(s, &sb.path("/shell?user=root"));
    a.send(Message::Binary(b"echo from-a-$(id -u)-x\n".to_vec().into()))
        .expect("a");
    b.send(Message::Binary(b"echo from-b-$(id -u)-x\n".to_vec().into()))
        .expect("b");
    assert!(read_until(&mut a, "from-a-1000-x").contains("from-a-1000-x"));
    assert!(read_until(&mut b, "from-b-0-x").contains("from-b-0-x"));

    // bad sizes are a 400 before any upgrade
    let r = s.get(&sb.path("/shell?cols=0&rows=0"));
    assert!(r.status().is_client_error());
}

#[test]
fn git_clone_with_and_without_token() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    // A repository served over HTTP (git's "dumb" protocol) from the sandbox's own loopback, behind
    // Basic auth, so the real credential path is exercised without any network.
    let setup = r#"set -e
git init -q --bare /tmp/srv/repo.git
git init -q /tmp/w && cd /tmp/w && echo hi > README && git add README
git -c user.email=t@t -c user.name=t commit -qm init
git push -q /tmp/srv/repo.git HEAD:refs/heads/main
cd /tmp/srv/repo.git && git symbolic-ref HEAD refs/heads/main && git update-server-info
cat > /tmp/serve.py <<'PY'
import base64, http.server, os
os.chdir('/tmp/srv')
want = 'Basic ' + base64.b64encode(b'x-access-token:s3cret-tok').decode()
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get('Authorization') != want:
            self.send_response(401)
            self.send_header('WWW-Authenticate', 'Basic realm="git"')
            self.end_headers()
            return
        super().do_GET()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', 8123), H).serve_forever()
PY
"#;
    assert_eq!(sb.sh(setup)["exitCode"], 0, "{}", sb.sh("true"));
    let r = s.post(
        &sb.path("/commands"),
        json!({"command": "python3 /tmp/serve.py"}),
    );
    assert_eq!(r.status().as_u16(), 201);
    let up = eventually(Duration::from_secs(20), || {
        let v =
            sb.sh("python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8123))\"");
        (v["exitCode"] == 0).then_some(())
    });
    assert!(up.is_some(), "git server did not come up");

    let url = "http://127.0.0.1:8123/repo.git";
    let m = assert_error(
        s.post(
            &sb.path("/git/clone"),
            json!({"url": url, "path": "noauth"}),
        ),
        403,
        "permission_denied",
    );
    assert!(m.contains("authentication"), "{m}");
    let r = s.post(
        &sb.path("/git/clone"),
        json!({"url": url, "path": "work/repo", "token": "s3cret-tok", "branch": "main"}),
    );
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap_or_default();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["path"], "/home/user/work/repo");
    assert_eq!(v["branch"], "main");
    assert_eq!(sb.out("cat work/repo/README"), "hi");
    // the token is nowhere in the sandbox
    let leaked = sb.exec(json!({"command": "grep -rl s3cret-tok /home/user /tmp/w 2>/dev/null | wc -l", "user": "root"}));
    assert_eq!(
        leaked["stdout"].as_str().map(str::trim),
        Some("0"),
        "{leaked}"
    );
    assert!(!sb.out("cat work/repo/.git/config").contains("s3cret"));

    assert_error(
        s.post(
            &sb.path("/git/clone"),
            json!({"url": url, "path": "work/repo", "token": "s3cret-tok"}),
        ),
        409,
        "already_exists",
    );
    assert_error(
        s.post(
            &sb.path("/git/clone"),
            json!({"url": "--upload-pack=touch /tmp/x"}),
        ),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(&sb.path("/git/clone"), json!({"url": "file:///etc"})),
        400,
        "invalid_argument",
    );
    assert_error(
        s.post(
            &sb.path("/git/clone"),
            json!({"url": "http://127.0.0.1:8123/nope.git", "token": "s3cret-tok"}),
        ),
        404,
        "not_found",
    );
}
