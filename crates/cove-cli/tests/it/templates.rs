//! Templates end to end: an OCI layout written by the test (`mklayout.py`) imported through the
//! CLI, pulled from a real local registry (`docker-registry`, pushed with `skopeo`) including a
//! corrupted blob, recipe and Dockerfile builds with the step cache, and malicious layers.

use crate::harness::{assert_error, bin, can_run, cove_rand, eventually, Server, KEY};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MKLAYOUT: &str = include_str!("mklayout.py");

fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("!!! SKIPPED: {tool} is not installed (scripts/test-deps.sh installs it)");
    }
    ok
}

fn tmp(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("cove-tpl-{tag}-{}", cove_rand()));
    std::fs::create_dir_all(&p).expect("tmp dir");
    p
}

/// Writes an OCI layout; returns the layer blob digests.
fn layout(dir: &Path, spec: Value) -> Vec<String> {
    let script = dir.with_extension("py");
    std::fs::write(&script, MKLAYOUT).expect("write mklayout");
    let out = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .arg(spec.to_string())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "mklayout: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("digests")
}

/// A runnable image: bash and its libraries, plus `extra` entries in a second layer.
fn image_spec(extra: Value, config: Value) -> Value {
    json!({
        "layers": [
            [{"type": "bashroot"},
             {"path": "data", "type": "dir"},
             {"path": "data/keep", "type": "file", "data": "kept"},
             {"path": "data/gone", "type": "file", "data": "deleted later"},
             {"path": "data/sub", "type": "dir"},
             {"path": "data/sub/old", "type": "file", "data": "hidden by opaque"}],
            extra
        ],
        "config": config
    })
}

fn cove(s: &Server, args: &[&str]) -> std::process::Output {
    Command::new(bin("cove"))
        .args(args)
        .env("COVE_URL", &s.url)
        .env("COVE_API_KEY", KEY)
        .output()
        .expect("run cove")
}

fn wait_built(s: &Server, name: &str) -> Value {
    eventually(Duration::from_secs(300), || {
        let v: Value = s.get(&format!("/v1/templates/{name}")).json().ok()?;
        (v["status"] != "building").then_some(v)
    })
    .expect("build finished")
}

fn build_log(s: &Server, name: &str) -> String {
    s.get(&format!("/v1/templates/{name}/build-log?follow=true"))
        .text()
        .unwrap_or_default()
}

#[test]
fn import_layout_with_whiteouts_and_image_defaults() {
    if !can_run() || !have("python3") {
        return;
    }
    let s = Server::shared();
    let dir = tmp("layout");
    layout(
        &dir,
        image_spec(
            json!([
                {"path": "data/.wh.gone", "type": "file"},
                {"path": "data/sub/.wh..wh..opq", "type": "file"},
                {"path": "data/sub/new", "type": "file", "data": "new"},
                {"path": "data/added", "type": "file", "data": "added"}
            ]),
            json!({"Env": ["FOO=bar", "PATH=/bin"], "WorkingDir": "/data", "Cmd": ["bash"]}),
        ),
    );
    // The CLI tars the directory and uploads it as the `image` part, then follows the log.
    let name = format!("imp-{}", &cove_rand()[8..]);
    let out = cove(
        s,
        &[
            "template",
            "import",
            dir.to_str().unwrap_or_default(),
            "--name",
            &name,
        ],
    );
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "import failed: {log}");
    assert!(log.contains("layer 2/2"), "progress shown: {log}");
    let t = wait_built(s, &name);
    assert_eq!(t["status"], "ready", "{t}");
    assert_eq!(t["kind"], "archive");
    assert_eq!(
        t["user"], "user",
        "image has a `user` entry in /etc/passwd: {t}"
    );
    assert_eq!(t["workdir"], "/data");
    assert_eq!(t["envs"]["FOO"], "bar");

    let sb = s.sandbox(json!({"templateId": name}));
    assert_eq!(sb.out("echo $(</data/keep)"), "kept");
    assert_eq!(
        sb.out("[ -e /data/gone ] && echo present || echo whiteout"),
        "whiteout"
    );
    assert_eq!(
        sb.out("[ -e /data/sub/old ] && echo leaked || echo $(</data/sub/new)"),
        "new"
    );
    assert_eq!(sb.out("echo $FOO $PWD $UID"), "bar /data 1000");
    // A host file must not be visible: only the image's layers form the root.
    assert_eq!(
        sb.out("[ -e /usr/bin/python3 ] && echo host || echo isolated"),
        "isolated"
    );

    // In use → 409; gone → 204; base never.
    assert_error(
        s.delete(&format!("/v1/templates/{name}")),
        409,
        "failed_precondition",
    );
    drop(sb);
    let r = s.delete(&format!("/v1/templates/{name}"));
    assert_eq!(r.status().as_u16(), 204);
    assert_error(s.get(&format!("/v1/templates/{name}")), 404, "not_found");
    assert_error(s.delete("/v1/templates/base"), 409, "failed_precondition");
    let _ = std::fs::remove_dir_all(&dir);
}

struct Registry {
    child: Child,
    addr: String,
    root: PathBuf,
}

impl Registry {
    fn start() -> Registry {
        let root = tmp("registry");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let addr = format!("127.0.0.1:{port}");
        let cfg = root.join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {addr}\n",
                root.join("data").display()
            ),
        )
        .expect("config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry");
        let http = reqwest::blocking::Client::new();
        eventually(Duration::from_secs(30), || {
            http.get(format!("http://{addr}/v2/"))
                .send()
                .ok()
                .map(|_| ())
        })
        .expect("registry up");
        Registry { child, addr, root }
    }

    fn push(&self, layout: &Path, repo: &str) {
        let out = Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{}/{repo}", self.addr))
            .output()
            .expect("skopeo");
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn pull_from_registry_and_reject_corrupted_blob() {
    if !can_run() || !have("python3") || !have("skopeo") || !have("docker-registry") {
        return;
    }
    let s = Server::shared();
    let reg = Registry::start();
    let good = tmp("good");
    layout(
        &good,
        image_spec(
            json!([{"path": "data/pulled", "type": "file", "data": "from the registry"}]),
            json!({"User": "root"}),
        ),
    );
    reg.push(&good, "team/img:1");
    let name = format!("pull-{}", &cove_rand()[8..]);
    let r = s.post(
        "/v1/templates",
        json!({"name": name, "image": format!("{}/team/img:1", reg.addr), "insecureRegistry": true,
               "auth": {"username": "u", "password": "p"}, "memoryMB": 256}),
    );
    assert_eq!(r.status().as_u16(), 202);
    let t = wait_built(s, &name);
    assert_eq!(t["status"], "ready", "{t}\n{}", build_log(s, &name));
    assert_eq!(t["kind"], "image");
    assert_eq!(t["user"], "root");
    assert_eq!(t["memoryMB"], 256);
    let sb = s.sandbox(json!({"templateId": name}));
    assert_eq!(sb.out("echo $(</data/pulled)"), "from the registry");
    assert_eq!(sb.out("echo $UID"), "0");
    drop(sb);

    // A second image whose top layer is corrupted inside the registry's storage.
    let bad = tmp("bad");
    let digests = layout(
        &bad,
        image_spec(
            json!([{"path": "data/corrupt", "type": "file", "data": "will be corrupted"}]),
            json!({}),
        ),
    );
    reg.push(&bad, "team/bad:1");
    let top = digests
        .last()
        .expect("layers")
        .trim_start_matches("sha256:")
        .to_string();
    let blob = reg
        .root
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&top[..2])
        .join(&top)
        .join("data");
    let len = std::fs::metadata(&blob)
        .expect("blob in registry storage")
        .len() as usize;
    std::fs::write(&blob, vec![0x1fu8; len]).expect("corrupt blob");
    let bad_name = format!("bad-{}", &cove_rand()[8..]);
    let r = s.post(
        "/v1/templates",
        json!({"name": bad_name, "image": format!("{}/team/bad:1", reg.addr), "insecureRegistry": true}),
    );
    assert_eq!(r.status().as_u16(), 202);
    let t = wait_built(s, &bad_name);
    assert_eq!(t["status"], "error", "{t}");
    let err = t["error"].as_str().unwrap_or_default();
    assert!(err.contains("igest"), "digest failure reported: {err}");
    assert_error(
        s.post("/v1/sandboxes", json!({"templateId": bad_name})),
        409,
        "failed_precondition",
    );
    // Nothing of the bad layer was kept.
    let layers = s.data_dir.join("images/layers");
    let leftovers = std::fs::read_dir(s.data_dir.join("images/tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "tmp dir cleaned");
    assert!(layers.is_dir());
    let _ = std::fs::remove_dir_all(&good);
    let _ = std::fs::remove_dir_all(&bad);
}

#[test]
fn recipe_steps_are_cached_and_rerun_from_the_changed_step() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let name = format!("rcp-{}", &cove_rand()[8..]);
    let recipe = |last: &str| {
        json!({"name": name, "recipe": {"from": {"template": "base"}, "steps": [
            {"run": "echo one > /opt/one"},
            {"env": {"GREETING": "hi"}},
            {"workdir": "/opt/app"},
            {"run": last}
        ], "start": "sleep 600", "ready": "test -f /opt/app/two"}})
    };
    let started = std::time::Instant::now();
    assert_eq!(
        s.post("/v1/templates", recipe("echo $GREETING > two"))
            .status()
            .as_u16(),
        202
    );
    let t = wait_built(s, &name);
    assert_eq!(t["status"], "ready", "{t}\n{}", build_log(s, &name));
    eprintln!("recipe build: {:?}", started.elapsed());
    let log = build_log(s, &name);
    assert!(
        !log.contains("(cached)"),
        "first build runs every step:\n{log}"
    );

    let sb = s.sandbox(json!({"templateId": name}));
    assert_eq!(
        sb.out("cat /opt/one; cat two; echo $GREETING; pwd"),
        "one\nhi\nhi\n/opt/app"
    );
    drop(sb);

    // Same recipe again: everything from the cache.
    let started = std::time::Instant::now();
    assert_eq!(
        s.post("/v1/templates", recipe("echo $GREETING > two"))
            .status()
            .as_u16(),
        202
    );
    assert_eq!(wait_built(s, &name)["status"], "ready");
    eprintln!("cache-hit rebuild: {:?}", started.elapsed());
    let log = build_log(s, &name);
    assert_eq!(log.matches("(cached)").count(), 3, "{log}");

    // Change the last step: only it reruns.
    assert_eq!(
        s.post("/v1/templates", recipe("echo changed > two"))
            .status()
            .as_u16(),
        202
    );
    assert_eq!(wait_built(s, &name)["status"], "ready");
    let log = build_log(s, &name);
    assert_eq!(log.matches("(cached)").count(), 2, "{log}");
    assert!(
        log.contains("step 4/4: RUN echo changed > two done"),
        "{log}"
    );
    let sb = s.sandbox(json!({"templateId": name}));
    assert_eq!(sb.out("cat /opt/app/two"), "changed");
    drop(sb);

    // A failing step fails the build with its exit code, and the template says why.
    assert_eq!(
        s.post("/v1/templates", recipe("exit 3")).status().as_u16(),
        202
    );
    let t = wait_built(s, &name);
    assert_eq!(t["status"], "error");
    assert!(
        t["error"].as_str().unwrap_or_default().contains("code 3"),
        "{t}"
    );
    let _ = s.delete(&format!("/v1/templates/{name}"));
}

#[test]
fn dockerfile_build_with_copy_start_and_ready() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let dir = tmp("ctx");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM base\nCOPY app/hello.txt /opt/app/\nENV MODE=test\nWORKDIR /opt/app\n\
         RUN echo \"$MODE\" > mode\nCMD [\"sh\", \"-c\", \"echo started > /tmp/started; sleep 600\"]\n\
         HEALTHCHECK CMD test -f /tmp/started\n",
    )
    .expect("Dockerfile");
    std::fs::create_dir_all(dir.join("app")).expect("app dir");
    std::fs::write(dir.join("app/hello.txt"), "hello from the context\n").expect("file");
    let name = format!("dock-{}", &cove_rand()[8..]);
    let out = cove(
        s,
        &[
            "template",
            "build",
            dir.to_str().unwrap_or_default(),
            "--name",
            &name,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = wait_built(s, &name);
    assert_eq!(t["kind"], "dockerfile");
    assert!(t["start"]
        .as_str()
        .unwrap_or_default()
        .contains("sleep 600"));
    // The ready check passed before create returned, so the start command already ran.
    let sb = s.sandbox(json!({"templateId": name}));
    assert_eq!(
        sb.out("cat hello.txt mode /tmp/started"),
        "hello from the context\ntest\nstarted"
    );
    drop(sb);
    // Syntax errors are a 400 before anything runs.
    assert_error(
        s.post(
            "/v1/templates",
            json!({"name": name, "dockerfile": "FROM a\nFROM b"}),
        ),
        400,
        "invalid_argument",
    );
    let _ = s.delete(&format!("/v1/templates/{name}"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malicious_layers_are_rejected() {
    if !can_run() || !have("python3") {
        return;
    }
    let s = Server::shared();
    let marker = format!("cove-escape-{}", cove_rand());
    let cases = [
        (
            "dotdot",
            json!([{"path": format!("../../../../../../tmp/{marker}"), "type": "file", "data": "x"}]),
        ),
        (
            "symlink",
            json!([{"path": "evil", "type": "symlink", "target": "/tmp"},
                           {"path": format!("evil/{marker}"), "type": "file", "data": "x"}]),
        ),
        ("device", json!([{"path": "dev/mem", "type": "chardev"}])),
        ("block", json!([{"path": "dev/sda", "type": "blockdev"}])),
        (
            "hardlink",
            json!([{"path": "pw", "type": "hardlink", "target": "../../../etc/passwd"}]),
        ),
    ];
    for (tag, layer) in cases {
        let dir = tmp(tag);
        layout(&dir, json!({"layers": [layer], "config": {}}));
        let name = format!("evil-{tag}-{}", &cove_rand()[10..]);
        let out = cove(
            s,
            &[
                "template",
                "import",
                dir.to_str().unwrap_or_default(),
                "--name",
                &name,
            ],
        );
        assert!(!out.status.success(), "{tag}: import must fail");
        let t = wait_built(s, &name);
        assert_eq!(t["status"], "error", "{tag}: {t}");
        assert!(
            t["error"].as_str().unwrap_or_default().contains("rejected"),
            "{tag}: {t}"
        );
        assert!(
            !Path::new("/tmp").join(&marker).exists(),
            "{tag}: escaped to the host"
        );
        let _ = s.delete(&format!("/v1/templates/{name}"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
