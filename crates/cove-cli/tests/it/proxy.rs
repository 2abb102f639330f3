//! Sandbox proxy: envd (Connect unary and server streams, `/files`, `/health`) and user ports (HTTP
//! and WebSocket through the agent's tunnel) reached through the API listener by E2B headers,
//! `{port}-{id}.{domain}` hosts and `/sandboxes/router/{id}/{port}/` paths, plus the E2B-shaped
//! 502 answers the SDKs map to exceptions.

use crate::harness::{can_run, eventually, Sandbox, Server};
use base64::Engine as _;
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The sandbox's envd access token. `/v1` never reveals it (the E2B surface does), so the test reads
/// it from the server's database.
fn token(s: &Server, id: &str) -> String {
    let db = rusqlite::Connection::open_with_flags(
        s.data_dir.join("cove.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open db");
    db.query_row(
        "SELECT access_token FROM sandboxes WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .expect("token")
}

/// `{domain}` as configured by the harness (the listen address).
fn domain(s: &Server) -> &str {
    s.url.trim_start_matches("http://")
}

/// A request without the API key: sandbox traffic carries none.
fn raw(s: &Server, method: reqwest::Method, path: &str) -> RequestBuilder {
    s.http.request(method, format!("{}{}", s.url, path))
}

/// The three ways of naming a sandbox port; each returns a request for `path` on that port.
#[derive(Clone, Copy, Debug)]
enum Via {
    Headers,
    Host,
    Path,
}

fn via(
    s: &Server,
    how: Via,
    id: &str,
    port: u16,
    method: reqwest::Method,
    path: &str,
) -> RequestBuilder {
    match how {
        Via::Headers => raw(s, method, path)
            .header("E2b-Sandbox-Id", id)
            .header("E2b-Sandbox-Port", port.to_string()),
        Via::Host => raw(s, method, path).header("Host", format!("{port}-{id}.{}", domain(s))),
        Via::Path => raw(s, method, &format!("/sandboxes/router/{id}/{port}{path}")),
    }
}

fn envelope(msg: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(msg).expect("json");
    let mut out = vec![0u8];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Reads one Connect envelope: (flags, JSON).
fn read_envelope(r: &mut impl Read) -> Option<(u8, Value)> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head).ok()?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((
        head[0],
        serde_json::from_slice(&body).expect("envelope json"),
    ))
}

/// Runs `command` with `process.Process/Start` and returns (stdout, exit code), checking the
/// stream's framing on the way.
fn start(req: RequestBuilder, token: &str, command: &str) -> (String, i64) {
    let body = envelope(&json!({"process": {"cmd": "/bin/bash", "args": ["-c", command]}}));
    // A reader body has no length, so it goes out chunked, as the Python SDK sends it.
    let mut r = req
        .header("X-Access-Token", token)
        .header("Content-Type", "application/connect+json")
        .header("Connect-Protocol-Version", "1")
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(body)))
        .send()
        .expect("Start");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/connect+json",
        "content type must be exact"
    );
    assert!(r.headers().get("content-encoding").is_none());
    let (mut stdout, mut exit, mut ended) = (String::new(), None, false);
    while let Some((flags, msg)) = read_envelope(&mut r) {
        if flags == 2 {
            assert_eq!(msg, json!({}), "end-stream error");
            ended = true;
            break;
        }
        let ev = &msg["event"];
        if let Some(d) = ev["data"]["stdout"].as_str() {
            stdout.push_str(&String::from_utf8_lossy(&B64.decode(d).expect("b64")));
        }
        if !ev["end"].is_null() {
            exit = Some(ev["end"]["exitCode"].as_i64().unwrap_or(0));
        }
    }
    assert!(ended, "no end-stream envelope");
    (stdout, exit.expect("no end event"))
}

fn list_dir(req: RequestBuilder, token: &str) -> Response {
    req.header("X-Access-Token", token)
        .header("Content-Type", "application/json")
        .body(json!({"path": "/home/user", "depth": 1}).to_string())
        .send()
        .expect("ListDir")
}

fn assert_not_found(r: Response, id: &str) {
    assert_eq!(r.status(), 502);
    let v: Value = r.json().expect("json");
    assert_eq!(
        v,
        json!({"sandboxId": id, "message": "The sandbox was not found", "code": 502})
    );
}

#[test]
fn envd_through_the_proxy() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let id = sb.id.as_str();
    let tok = token(s, id);
    sb.out("echo listed > /home/user/marker.txt");

    for how in [Via::Headers, Via::Host, Via::Path] {
        let r = list_dir(
            via(
                s,
                how,
                id,
                49983,
                reqwest::Method::POST,
                "/filesystem.Filesystem/ListDir",
            ),
            &tok,
        );
        assert_eq!(r.status(), 200, "{how:?}");
        let v: Value = r.json().expect("json");
        let names: Vec<&str> = v["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert!(names.contains(&"marker.txt"), "{how:?}: {v}");

        let (out, code) = start(
            via(
                s,
                how,
                id,
                49983,
                reqwest::Method::POST,
                "/process.Process/Start",
            ),
            &tok,
            "echo hello; echo $((6*7))",
        );
        assert_eq!((out.as_str(), code), ("hello\n42\n", 0), "{how:?}");
    }
    // Old clients send no sandbox header: the token alone routes.
    let (out, _) = start(
        raw(s, reqwest::Method::POST, "/process.Process/Start"),
        &tok,
        "echo by-token",
    );
    assert_eq!(out, "by-token\n");
    let r = raw(s, reqwest::Method::GET, "/envs")
        .header("X-Access-Token", &tok)
        .send()
        .expect("envs");
    assert_eq!(r.status(), 200);

    // The agent, not the proxy, judges tokens: none or a wrong one is its 401.
    let headers = || {
        via(
            s,
            Via::Headers,
            id,
            49983,
            reqwest::Method::POST,
            "/filesystem.Filesystem/ListDir",
        )
    };
    let r = headers()
        .header("Content-Type", "application/json")
        .body(r#"{"path":"/"}"#)
        .send()
        .expect("ListDir");
    assert_eq!(r.status(), 401);
    let v: Value = r.json().expect("json");
    assert_eq!(v["code"], "unauthenticated", "{v}");
    assert_eq!(list_dir(headers(), "wrong").status(), 401);
    // An API key does not stand in for the token.
    let r = headers()
        .bearer_auth(crate::harness::KEY)
        .header("X-API-Key", crate::harness::KEY)
        .header("Content-Type", "application/json")
        .body(r#"{"path":"/"}"#)
        .send()
        .expect("ListDir");
    assert_eq!(r.status(), 401);
    // A token no sandbox has cannot be routed at all.
    assert_not_found(
        list_dir(
            raw(s, reqwest::Method::POST, "/filesystem.Filesystem/ListDir"),
            "wrong",
        ),
        "",
    );
    // `/init` would let a token holder replace the token the control plane uses.
    let r = via(s, Via::Headers, id, 49983, reqwest::Method::POST, "/init")
        .header("X-Access-Token", &tok)
        .body("{}")
        .send()
        .expect("init");
    assert_eq!(r.status(), 403);

    // Health: with a sandbox hint it is envd's, bare it is the API's.
    let r = via(s, Via::Headers, id, 49983, reqwest::Method::GET, "/health")
        .send()
        .expect("health");
    assert_eq!(r.status(), 204);
    let r = raw(s, reqwest::Method::GET, "/health")
        .send()
        .expect("health");
    assert_eq!(r.status(), 204);
    assert_not_found(
        via(
            s,
            Via::Headers,
            "nosuchsandbox0000000",
            49983,
            reqwest::Method::GET,
            "/health",
        )
        .send()
        .expect("health"),
        "nosuchsandbox0000000",
    );
    assert_not_found(
        via(
            s,
            Via::Host,
            "nosuchsandbox0000000",
            49983,
            reqwest::Method::POST,
            "/process.Process/Start",
        )
        .send()
        .expect("start"),
        "nosuchsandbox0000000",
    );

    // Signed download URL with no headers at all (E2B `download_url()`).
    let path = "/home/user/marker.txt";
    let raw_sig = format!("{path}:read::{tok}");
    let sig = format!(
        "v1_{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(raw_sig))
    );
    let q = |v: &str| -> String {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let r = raw(
        s,
        reqwest::Method::GET,
        &format!("/files?path={}&signature={}", q(path), q(&sig)),
    )
    .send()
    .expect("signed download");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().expect("text"), "listed\n");
    let r = raw(
        s,
        reqwest::Method::GET,
        &format!("/files?path={}&signature=v1_bogus", q(path)),
    )
    .send()
    .expect("bad signature");
    assert_eq!(r.status(), 502);

    // Streams are forwarded envelope by envelope: the first output arrives while the process is
    // still running (a buffering proxy would hold it until the client's timeout).
    let body = envelope(
        &json!({"process": {"cmd": "/bin/bash", "args": ["-c", "echo ready; sleep 600"]}}),
    );
    let mut r = via(
        s,
        Via::Host,
        id,
        49983,
        reqwest::Method::POST,
        "/process.Process/Start",
    )
    .header("X-Access-Token", &tok)
    .header("Content-Type", "application/connect+json")
    .body(body)
    .send()
    .expect("Start");
    let mut seen = String::new();
    while !seen.contains("ready") {
        let (flags, msg) = read_envelope(&mut r).expect("stream ended before output");
        assert_eq!(flags, 0, "{msg}");
        if let Some(d) = msg["event"]["data"]["stdout"].as_str() {
            seen.push_str(&String::from_utf8_lossy(&B64.decode(d).expect("b64")));
        }
    }
    drop(r);
}

/// Starts a server in the sandbox and waits until the proxy reaches it.
fn serve_in(sb: &Sandbox<'_>, command: &str, port: u16) {
    sb.out(&format!("nohup {command} >/tmp/server-{port}.log 2>&1 &"));
    let s = sb.server;
    let up = eventually(Duration::from_secs(30), || {
        let r = via(s, Via::Path, &sb.id, port, reqwest::Method::GET, "/")
            .send()
            .ok()?;
        // Any answer but "port is not open" means something listens (the WebSocket server drops
        // plain GETs, which is a different 502).
        let text = r.text().ok()?;
        (!text.contains("port is not open")).then_some(())
    });
    assert!(up.is_some(), "server on port {port} did not come up");
}

const WS_SERVER: &str = r#"
import base64, hashlib, socket, sys, threading
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
def exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b
def serve(c):
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                return
            data += d
        lines = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
        key = [l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        while True:
            b0, b1 = exact(c, 2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = int.from_bytes(exact(c, 2), "big")
            mask = exact(c, 4) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytes(x ^ mask[i % 4] for i, x in enumerate(exact(c, n)))
            if op == 8:
                c.sendall(b"\x88\x00")
                return
            c.sendall(bytes([0x80 | op, n]) + payload)
    except EOFError:
        pass
    finally:
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// A WebSocket round trip through the proxy, over a raw TCP connection to the server.
fn websocket_echo(s: &Server, request_target: &str, host: &str) {
    let mut c = TcpStream::connect(domain(s)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        c,
        "GET {request_target} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        c.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // RFC 6455's example key and its accept value: the handshake went through unmodified.
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    for text in ["hello ws", "second message"] {
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x81, 0x80 | text.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        c.write_all(&frame).expect("send frame");
        let mut hdr = [0u8; 2];
        c.read_exact(&mut hdr).expect("echo header");
        assert_eq!(hdr[0], 0x81);
        let mut payload = vec![0u8; (hdr[1] & 0x7F) as usize];
        c.read_exact(&mut payload).expect("echo payload");
        assert_eq!(String::from_utf8_lossy(&payload), text);
    }
    c.write_all(&[0x88, 0x80, 0, 0, 0, 0]).expect("close");
    let mut hdr = [0u8; 2];
    c.read_exact(&mut hdr).expect("close reply");
    assert_eq!(hdr[0], 0x88);
}

#[test]
fn user_ports_through_the_tunnel() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let id = sb.id.as_str();
    sb.out("mkdir -p /tmp/www/sub && echo 'hi from the sandbox' > /tmp/www/sub/hello.txt");
    serve_in(
        &sb,
        "python3 -m http.server 8000 --directory /tmp/www",
        8000,
    );

    for how in [Via::Host, Via::Path, Via::Headers] {
        let r = via(s, how, id, 8000, reqwest::Method::GET, "/sub/hello.txt?x=1")
            .send()
            .expect("GET");
        assert_eq!(r.status(), 200, "{how:?}");
        assert_eq!(r.text().expect("text"), "hi from the sandbox\n", "{how:?}");
        // The server's own errors pass through untouched.
        let r = via(s, how, id, 8000, reqwest::Method::GET, "/missing")
            .send()
            .expect("GET");
        assert_eq!(r.status(), 404, "{how:?}");
    }
    // Many requests, each a fresh tunnel.
    for i in 0..20 {
        let r = via(
            s,
            Via::Host,
            id,
            8000,
            reqwest::Method::GET,
            "/sub/hello.txt",
        )
        .send()
        .expect("GET");
        assert_eq!(r.status(), 200, "request {i}");
    }

    // Nothing listens on 8001: E2B's "port is not open" answer, which the SDKs map to
    // SandboxUnreachable.
    for how in [Via::Host, Via::Path, Via::Headers] {
        let r = via(s, how, id, 8001, reqwest::Method::GET, "/")
            .send()
            .expect("GET");
        assert_eq!(r.status(), 502, "{how:?}");
        let v: Value = r.json().expect("json");
        assert_eq!(
            v,
            json!({"sandboxId": id, "message": "The sandbox is running but port is not open",
                   "port": 8001, "code": 502}),
            "{how:?}"
        );
    }
    // The code interpreter (49999) is one more port behind the tunnel; its `/contexts` needs no
    // token.
    let r = via(
        s,
        Via::Headers,
        id,
        49999,
        reqwest::Method::GET,
        "/contexts",
    )
    .send()
    .expect("GET");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().expect("json");
    assert!(v.is_array(), "{v}");
    assert_not_found(
        via(
            s,
            Via::Path,
            "nosuchsandbox0000000",
            8000,
            reqwest::Method::GET,
            "/",
        )
        .send()
        .expect("GET"),
        "nosuchsandbox0000000",
    );

    // WebSocket: the upgrade is performed on both sides and the connections are spliced.
    sb.out(&format!("cat > /tmp/ws.py <<'EOF'\n{WS_SERVER}\nEOF"));
    serve_in(&sb, "python3 /tmp/ws.py 8765", 8765);
    websocket_echo(s, "/chat", &format!("8765-{id}.{}", domain(s)));
    websocket_echo(s, &format!("/sandboxes/router/{id}/8765/chat"), domain(s));
}
