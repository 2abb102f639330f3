//! Test harness: a real `cove serve` child process and a small HTTP helper around it.

use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const KEY: &str = "cove_test_system_key_0123456789abcdef";

/// Path of a binary built by cargo next to the test executable.
pub fn bin(name: &str) -> PathBuf {
    if name == "cove" {
        return PathBuf::from(env!("CARGO_BIN_EXE_cove"));
    }
    PathBuf::from(env!("CARGO_BIN_EXE_cove"))
        .parent()
        .map(|d| d.join(name))
        .unwrap_or_default()
}

/// True when this machine can run sandboxes; prints why not otherwise.
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let runc = Command::new("runc")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !root || !runc {
        eprintln!("!!! SKIPPED: sandbox tests need root and runc (root={root}, runc={runc})");
        return false;
    }
    true
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running server.
pub struct Server {
    pub url: String,
    pub data_dir: PathBuf,
    child: Option<Child>,
    pub http: Client,
}

impl Server {
    /// Starts a server on `dir` (reused across restarts) and `port`.
    pub fn start_in(dir: &Path, port: u16) -> Server {
        Self::spawn(dir, port, false)
    }

    fn spawn(dir: &Path, port: u16, die_with_parent_thread: bool) -> Server {
        std::fs::create_dir_all(dir).expect("data dir");
        let url = format!("http://127.0.0.1:{port}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("log");
        let mut cmd = Command::new(bin("cove"));
        if die_with_parent_thread {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death signal.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
        }
        let child = cmd
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir)
            .args(["--system-key", KEY])
            .env("COVE_LOG", "info,cove=debug")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn cove serve");
        let mut server = Server {
            url,
            data_dir: dir.to_path_buf(),
            child: Some(child),
            http: Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
        };
        // Drain stdout in the background so the server never blocks on a full pipe.
        if let Some(out) = server.child.as_mut().and_then(|c| c.stdout.take()) {
            std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
        }
        let start = Instant::now();
        loop {
            if let Ok(r) = server.http.get(format!("{}/healthz", server.url)).send() {
                if r.status().is_success() {
                    break;
                }
            }
            if let Some(Ok(Some(status))) = server.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "cove serve exited with {status}; log:\n{}",
                    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The server shared by tests that don't restart it. It is spawned from a thread that lives as
    /// long as the test process and gets SIGTERM (parent-death signal) when the process exits, so
    /// no server outlives the test run.
    pub fn shared() -> &'static Server {
        static S: OnceLock<Server> = OnceLock::new();
        S.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let dir = std::env::temp_dir().join(format!(
                    "cove-it-{}-{}",
                    std::process::id(),
                    cove_rand()
                ));
                let _ = tx.send(Server::spawn(&dir, free_port(), true));
                loop {
                    std::thread::park();
                }
            });
            rx.recv().expect("shared server")
        })
    }

    /// Stops the server process (sandboxes keep running).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: sending SIGTERM to our own child pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.url, path))
            .bearer_auth(KEY)
    }

    pub fn get(&self, path: &str) -> Response {
        self.req(reqwest::Method::GET, path).send().expect("GET")
    }

    pub fn post(&self, path: &str, body: Value) -> Response {
        self.req(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .expect("POST")
    }

    pub fn delete(&self, path: &str) -> Response {
        self.req(reqwest::Method::DELETE, path)
            .send()
            .expect("DELETE")
    }

    /// Creates a sandbox and returns a guard that deletes it.
    pub fn sandbox(&self, body: Value) -> Sandbox<'_> {
        let r = self.post("/v1/sandboxes", body);
        let status = r.status().as_u16();
        let v: Value = r.json().expect("json");
        assert_eq!(status, 201, "create failed: {v}");
        Sandbox {
            server: self,
            id: v["id"].as_str().expect("id").to_string(),
            info: v,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A sandbox deleted when the guard drops.
pub struct Sandbox<'a> {
    pub server: &'a Server,
    pub id: String,
    pub info: Value,
}

impl Sandbox<'_> {
    pub fn path(&self, rest: &str) -> String {
        format!("/v1/sandboxes/{}{}", self.id, rest)
    }

    /// Runs a shell command; returns the ExecResponse JSON.
    pub fn sh(&self, command: &str) -> Value {
        self.exec(json!({ "command": command }))
    }

    pub fn exec(&self, body: Value) -> Value {
        let r = self.server.post(&self.path("/exec"), body);
        let status = r.status().as_u16();
        let v: Value = r.json().expect("json");
        assert_eq!(status, 200, "exec failed: {v}");
        v
    }

    /// Runs a shell command and returns its trimmed stdout, asserting exit 0.
    pub fn out(&self, command: &str) -> String {
        let v = self.sh(command);
        assert_eq!(v["exitCode"], 0, "{command}: {v}");
        v["stdout"].as_str().unwrap_or_default().trim().to_string()
    }
}

impl Drop for Sandbox<'_> {
    fn drop(&mut self) {
        let _ = self
            .server
            .req(
                reqwest::Method::DELETE,
                &format!("/v1/sandboxes/{}", self.id),
            )
            .send();
    }
}

pub fn cove_rand() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

/// Asserts a response is an error envelope with this status and code; returns the message.
pub fn assert_error(r: Response, status: u16, code: &str) -> String {
    let got = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON (status {got}): {text}"));
    assert_eq!(got, status, "{text}");
    assert_eq!(v["error"]["code"], code, "{text}");
    let msg = v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!msg.is_empty(), "empty message: {text}");
    msg
}

/// Polls `f` until it returns Some or the deadline passes (for state changes, not for timing).
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
