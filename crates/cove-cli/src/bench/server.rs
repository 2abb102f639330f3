//! The bench's private `cove serve` and the cleanup that undoes everything the bench created.
//!
//! Cleanup runs exactly once, from whichever comes first: the normal end of the run, an error
//! (the guard's `Drop`), or Ctrl-C/SIGTERM (a watcher thread). It deletes sandboxes through the
//! API while the server is up, stops the server, then sweeps what a crash could leave behind:
//! runc containers, mounts and loop devices under the bench's temp dir, and the server's cgroup
//! parent. The temp dir is removed only once nothing is mounted under it, so a stuck bind mount
//! can never turn `remove_dir_all` into a deletion of host files.

use super::host;
use anyhow::{bail, Context};
use cove_client::{Client, ListParams};
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fixed key of the private server: it listens on loopback only and lives for one run.
pub(super) const SYSTEM_KEY: &str = "cove_benchbenchbenchbenchbenchbenchbench0000";

/// What the cleanup needs, owned by whoever runs it first.
struct State {
    server: Option<Child>,
    url: Option<String>,
    tmp: PathBuf,
    cgroup_parent: Option<String>,
}

/// Shared handle on the one-shot cleanup.
#[derive(Clone)]
pub struct Cleanup(Arc<Mutex<Option<State>>>);

impl Cleanup {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        self.0.lock().ok()?.as_mut().map(f)
    }

    /// Remembers the server's cgroup parent (learnt from the first sandbox) for the final sweep.
    pub fn set_cgroup_parent(&self, parent: String) {
        self.with(|s| s.cgroup_parent.get_or_insert(parent).clone());
    }

    /// Runs the cleanup if nobody did yet; returns what it had to sweep by force.
    pub fn run(&self) -> Vec<String> {
        let state = match self.0.lock() {
            Ok(mut g) => g.take(),
            // A panic while holding the lock: still clean up what we can.
            Err(p) => p.into_inner().take(),
        };
        match state {
            Some(s) => sweep(s),
            None => Vec::new(),
        }
    }

    /// Makes Ctrl-C and SIGTERM clean up before exiting (status 130).
    pub fn on_signal(&self) {
        let me = self.clone();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let term = async {
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(mut s) => {
                            s.recv().await;
                        }
                        Err(_) => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term => {},
                }
            });
            eprintln!("\ninterrupted: removing the bench's sandboxes and server ...");
            for note in me.run() {
                eprintln!("  {note}");
            }
            std::process::exit(130);
        });
    }
}

/// The private server.
pub struct BenchServer {
    pub client: Client,
    pub url: String,
    pub pid: u32,
    pub data_dir: PathBuf,
    pub tmp: PathBuf,
    pub log: PathBuf,
    pub cleanup: Cleanup,
}

impl BenchServer {
    /// Starts `cove serve` from this very binary on a kernel-chosen loopback port.
    pub fn start() -> anyhow::Result<BenchServer> {
        let exe = std::env::current_exe().context("locating the cove binary")?;
        let agent = exe.with_file_name("cove-agent");
        if !agent.is_file() {
            bail!(
                "{} not found: build it with `cargo build --release --bins`",
                agent.display()
            );
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = std::env::temp_dir().join(format!("cove-bench-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&tmp).with_context(|| format!("mkdir {}", tmp.display()))?;
        let cleanup = Cleanup(Arc::new(Mutex::new(Some(State {
            server: None,
            url: None,
            tmp: tmp.clone(),
            cgroup_parent: None,
        }))));
        cleanup.on_signal();
        Self::launch(&exe, &agent, tmp, cleanup.clone()).inspect_err(|_| {
            cleanup.run();
        })
    }

    fn launch(
        exe: &Path,
        agent: &Path,
        tmp: PathBuf,
        cleanup: Cleanup,
    ) -> anyhow::Result<BenchServer> {
        let data_dir = tmp.join("data");
        let log = tmp.join("server.log");
        let log_file =
            fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--system-key")
            .arg(SYSTEM_KEY)
            .arg("--agent-bin")
            .arg(agent);
        // The operator's own server settings must not leak into the private one.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("COVE_") {
                cmd.env_remove(k);
            }
        }
        // Debug lines of core and runtime carry the per-phase create timings the report splits.
        cmd.env("COVE_LOG", "info,cove_core=debug,cove_runtime=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            // Own process group: Ctrl-C must reach only the bench, which then deletes the
            // sandboxes through this server before stopping it.
            .process_group(0);
        let mut child = cmd.spawn().context("starting cove serve")?;
        let pid = child.id();
        let stdout = child.stdout.take();
        cleanup.with(|s| s.server = Some(child));
        let url = match stdout {
            Some(out) => wait_listening(out)?,
            None => bail!("no stdout from cove serve"),
        };
        cleanup.with(|s| s.url = Some(url.clone()));
        let client = Client::new(&url, Some(SYSTEM_KEY.into()))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.health().is_err() {
            if Instant::now() > deadline {
                bail!("cove serve did not become healthy; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(BenchServer {
            client,
            url,
            pid,
            data_dir,
            tmp,
            log,
            cleanup,
        })
    }

    /// Host PID of a sandbox's init (the agent).
    pub fn init_pid(&self, id: &str) -> Option<u32> {
        let p = self
            .data_dir
            .join("runtime/sandboxes")
            .join(id)
            .join("init.pid");
        fs::read_to_string(p).ok()?.trim().parse().ok()
    }

    /// Where the runtime keeps sandboxes (mount points live below).
    pub fn sandboxes_dir(&self) -> PathBuf {
        self.data_dir.join("runtime/sandboxes")
    }

    /// Containers runc still knows about.
    pub fn runc_containers(&self) -> usize {
        runc_ids(&self.data_dir).len()
    }
}

/// Reads the server's stdout until it reports its address; keeps draining it afterwards so the
/// server never blocks on a full pipe.
fn wait_listening(out: std::process::ChildStdout) -> anyhow::Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if !sent {
                if let Some(url) = line.strip_prefix("cove listening on ") {
                    let _ = tx.send(url.trim().to_string());
                    sent = true;
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .context("cove serve did not report its address (see server.log in the temp dir)")
}

fn runc_ids(data_dir: &Path) -> Vec<String> {
    let root = data_dir.join("runtime/runc");
    fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes every pool and every live sandbox of the server through its API.
fn delete_all(url: &str) -> usize {
    let Ok(client) = Client::new(url, Some(SYSTEM_KEY.into())) else {
        return 0;
    };
    // Pooled sandboxes are not in the sandbox list; removing their pools destroys them, and
    // must come first so the filler does not boot replacements meanwhile.
    if let Ok(pools) = client.pools() {
        for p in pools.items {
            let _ = client.delete_pool(&p.template_id);
        }
    }
    let mut n = 0;
    for _ in 0..20 {
        let params = ListParams {
            status: vec!["booting".into(), "running".into(), "paused".into()],
            limit: Some(100),
            ..Default::default()
        };
        let Ok(page) = client.list_sandboxes(&params) else {
            break;
        };
        if page.items.is_empty() {
            break;
        }
        for sb in page.items {
            if client.delete_sandbox(&sb.id).is_ok() {
                n += 1;
            }
        }
    }
    n
}

fn stop(mut child: Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn umount(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: c is a valid NUL-terminated path for the duration of the call.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) == 0 }
}

/// The cleanup proper; every step is best effort and reports what it found.
fn sweep(mut s: State) -> Vec<String> {
    let mut notes = Vec::new();
    if let (Some(url), Some(child)) = (&s.url, s.server.as_mut()) {
        if matches!(child.try_wait(), Ok(None)) {
            let n = delete_all(url);
            if n > 0 {
                notes.push(format!("deleted {n} leftover sandbox(es) through the API"));
            }
        }
    }
    if let Some(child) = s.server.take() {
        stop(child);
    }
    let data = s.tmp.join("data");
    let runc_root = data.join("runtime/runc");
    for id in runc_ids(&data) {
        let _ = Command::new("runc")
            .arg("--root")
            .arg(&runc_root)
            .args(["delete", "--force", &id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        notes.push(format!("force-deleted runc container {id}"));
    }
    for m in host::mounts_under(&s.tmp) {
        if umount(&m) {
            notes.push(format!("unmounted {}", m.display()));
        }
    }
    for dev in host::loops_under(&s.tmp) {
        let _ = Command::new("losetup").args(["-d", &dev]).status();
        notes.push(format!("detached {dev}"));
    }
    if let Some(parent) = &s.cgroup_parent {
        for d in host::cgroup_dirs(parent) {
            if let Ok(rd) = fs::read_dir(&d) {
                for e in rd
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                {
                    if fs::remove_dir(e.path()).is_ok() {
                        notes.push(format!("removed cgroup {}", e.path().display()));
                    }
                }
            }
            // The server leaves its (empty) parent behind by design; the bench made it, so it
            // removes it.
            let _ = fs::remove_dir(&d);
        }
    }
    remove_baseline_cgroups(&mut notes);
    if host::mounts_under(&s.tmp).is_empty() {
        if let Err(e) = fs::remove_dir_all(&s.tmp) {
            notes.push(format!("could not remove {}: {e}", s.tmp.display()));
        }
    } else {
        notes.push(format!(
            "kept {}: something is still mounted below it",
            s.tmp.display()
        ));
    }
    notes
}

/// runc/crun baseline containers get cgroups named after their container id; a baseline killed
/// mid-run can leave one.
fn remove_baseline_cgroups(notes: &mut Vec<String>) {
    let prefix = super::baselines::container_prefix();
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![root.to_path_buf()];
    if let Ok(rd) = fs::read_dir(root) {
        dirs.extend(
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path()),
        );
    }
    for d in dirs {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix)
                && fs::remove_dir(e.path()).is_ok()
            {
                notes.push(format!("removed cgroup {}", e.path().display()));
            }
        }
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        for note in self.cleanup.run() {
            eprintln!("cleanup: {note}");
        }
    }
}
