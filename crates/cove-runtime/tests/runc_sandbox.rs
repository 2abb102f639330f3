//! End-to-end tests of the runc backend: real containers from the base template. They need root
//! and `runc`; without them each test prints a loud notice and passes vacuously.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cove_runtime::{
    base, ContainerState, RootfsSpec, RuncRuntime, Runtime, RuntimeConfig, SandboxSpec,
};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("!!!!!!!! SKIPPED: cove-runtime container tests need root !!!!!!!!");
        return false;
    }
    if Command::new("runc").arg("--version").output().is_err() {
        eprintln!("!!!!!!!! SKIPPED: runc not found (apt-get install -y runc) !!!!!!!!");
        return false;
    }
    true
}

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{t}", std::process::id())
}

/// A 20-char sandbox id.
fn new_id() -> String {
    cove_types::new_sandbox_id()
}

struct Env {
    tmp: PathBuf,
    rt: RuncRuntime,
    rootfs: RootfsSpec,
    agent: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = PathBuf::from("/tmp").join(unique("cove-rt-test"));
        std::fs::create_dir_all(&tmp).unwrap();
        let rt = RuncRuntime::new(RuntimeConfig::new(tmp.join("data"))).unwrap();
        let rootfs = base::ensure_base_template(&tmp.join("templates/base")).unwrap();
        let agent = tmp.join("agent.sh");
        std::fs::write(&agent, "#!/bin/sh\nexec sleep 100000\n").unwrap();
        std::process::Command::new("chmod")
            .args(["755"])
            .arg(&agent)
            .status()
            .unwrap();
        Env {
            tmp,
            rt,
            rootfs,
            agent,
        }
    }

    fn spec(&self, id: &str, disk_mb: u64) -> SandboxSpec {
        SandboxSpec {
            id: id.to_string(),
            rootfs: self.rootfs.clone(),
            agent_binary: self.agent.clone(),
            init_args: vec![],
            init_env: vec!["COVE_TEST=1".into()],
            limits: cove_types::Limits {
                cpu_count: 1,
                memory_mb: 256,
                disk_mb,
                pids: 256,
            },
            network: cove_runtime::Network::Isolated,
        }
    }

    /// `runc exec` into the sandbox; returns (exit code, stdout, stderr).
    fn exec(&self, id: &str, user: Option<&str>, args: &[&str]) -> (i32, String, String) {
        let mut c = Command::new(self.rt.runc_path());
        c.arg("--root").arg(self.rt.runc_root()).arg("exec");
        match user {
            Some(u) => c.args([
                "--user",
                u,
                "--cwd",
                "/home/user",
                "--env",
                "HOME=/home/user",
            ]),
            None => c.args(["--env", "HOME=/root"]),
        };
        c.arg(id).args(args);
        let out = c.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn sh(&self, id: &str, script: &str) -> (i32, String, String) {
        self.exec(id, None, &["/bin/sh", "-c", script])
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(ids) = self.rt.list() {
            for id in ids {
                let _ = self.rt.delete(&id);
            }
        }
        self.rt.prune_cgroup_parent();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

fn mounts_mentioning(p: &Path) -> Vec<String> {
    let needle = p.to_string_lossy().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if let Ok(rd) = std::fs::read_dir(base) {
            for e in rd.flatten() {
                let p = e.path();
                for cand in [p.join(id), p.clone()] {
                    if let Ok(inner) = std::fs::read_dir(&cand) {
                        for f in inner.flatten() {
                            if f.file_name().to_string_lossy().starts_with("cove-")
                                && f.path().join(id).exists()
                            {
                                out.push(f.path().join(id));
                            }
                        }
                    }
                }
                if p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("cove-")
                    && p.join(id).exists()
                {
                    out.push(p.join(id));
                }
            }
        }
    }
    out
}

#[test]
fn sandbox_lifecycle_and_isolation() {
    if !can_run() {
        return;
    }
    let env = Env::new();
    let id = new_id();
    let created = env.rt.create(&env.spec(&id, 64)).unwrap();
    assert!(created.pid > 1);
    assert_eq!(
        created.socket_path,
        env.rt.sandbox_dir(&id).join("run/agent.sock")
    );
    assert_eq!(env.rt.socket_path(&id), created.socket_path);
    assert_eq!(
        env.rt.state(&id).unwrap(),
        ContainerState::Running { pid: created.pid }
    );
    assert_eq!(env.rt.list().unwrap(), vec![id.clone()]);
    assert!(!cgroup_dirs(&id).is_empty(), "no cgroup dirs for {id}");

    // python3 works as root and as the default user.
    let (code, out, err) = env.exec(&id, None, &["python3", "-c", "print(6*7)"]);
    assert_eq!((code, out.trim()), (0, "42"), "stderr: {err}");
    let (code, out, err) = env.exec(
        &id,
        Some("1000:1000"),
        &[
            "/bin/bash",
            "-lc",
            "python3 -c 'print(6*7)'; id -un; echo $HOME; touch ~/f && echo ok",
        ],
    );
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec!["42", "user", "/home/user", "ok"]
    );

    // Hostname, host files and host processes.
    let (_, out, _) = env.sh(&id, "hostname");
    assert_eq!(out.trim(), id);
    let marker = PathBuf::from("/tmp").join(unique("cove-marker"));
    std::fs::write(&marker, "x").unwrap();
    let (code, _, _) = env.sh(&id, &format!("test -e {}", marker.display()));
    let _ = std::fs::remove_file(&marker);
    assert_ne!(code, 0, "host marker visible in the sandbox");
    let (code, _, _) = env.sh(&id, &format!("test -e {}", env.tmp.display()));
    assert_ne!(code, 0, "host test dir visible in the sandbox");
    let (_, out, _) = env.sh(&id, "ls /proc | grep -c '^[0-9]'");
    let n: u32 = out.trim().parse().unwrap();
    assert!(n <= 4, "{n} pids visible");
    let (_, out, _) = env.sh(
        &id,
        "ls /home; cat /etc/passwd | cut -d: -f1 | tr '\\n' ' '",
    );
    assert!(out.contains("user"), "{out}");

    // Network: only loopback, and it is up.
    let (_, out, _) = env.sh(&id, "ls /sys/class/net; cat /sys/class/net/lo/flags");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        vec!["lo", "0x9"]
    );
    let (code, out, err) = env.exec(
        &id,
        None,
        &[
            "python3",
            "-c",
            "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); \
             c=socket.create_connection(s.getsockname()); print('ok')",
        ],
    );
    assert_eq!((code, out.trim()), (0, "ok"), "{err}");

    // Seccomp and capabilities.
    let (code, _, err) = env.sh(&id, "unshare -U true");
    assert_ne!(code, 0);
    assert!(err.contains("Operation not permitted"), "{err}");
    // clone(CLONE_NEWUSER | SIGCHLD) straight through the syscall, bypassing clone3.
    let (code, out, err) = env.exec(
        &id,
        None,
        &[
            "python3",
            "-c",
            "import ctypes, os; r = ctypes.CDLL(None, use_errno=True).syscall(56, 0x10000000 | 17, 0, 0, 0, 0)\n\
             if r == 0: os._exit(0)\n\
             print(r, ctypes.get_errno())",
        ],
    );
    assert_eq!((code, out.trim()), (0, "-1 1"), "{err}");
    // Plain fork (clone without namespace flags) still works, and clone3 reports ENOSYS.
    let (code, out, err) = env.exec(
        &id,
        None,
        &[
            "python3",
            "-c",
            "import ctypes, os; pid = os.fork()\n\
             if pid == 0: os._exit(7)\n\
             print(os.waitpid(pid, 0)[1] >> 8, ctypes.CDLL(None, use_errno=True).syscall(435, 0, 0), ctypes.get_errno())",
        ],
    );
    assert_eq!((code, out.trim()), (0, "7 -1 38"), "{err}");
    let (code, _, _) = env.sh(&id, "mount -t tmpfs none /mnt");
    assert_ne!(code, 0);
    let (code, out, err) = env.sh(
        &id,
        "echo hi | sh -c 'cat' && ls /dev/pts >/dev/null && echo ok",
    );
    assert_eq!((code, out.trim()), (0, "hi\nok"), "{err}");
    let (_, out, _) = env.sh(&id, "cat /proc/1/status | grep -E '^(CapBnd|NoNewPrivs)'");
    assert!(out.contains("00000000a80425fb"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");

    // Disk limit: writing past 64 MiB fails with ENOSPC.
    let (code, _, err) = env.sh(&id, "dd if=/dev/zero of=/tmp/big bs=1M count=100");
    assert_ne!(code, 0);
    assert!(err.contains("No space left on device"), "{err}");
    let stats = env.rt.stats(&id).unwrap();
    eprintln!("stats after filling the disk: {stats:?}");
    assert_eq!(stats.memory_limit_bytes, 256 * 1024 * 1024);
    assert!(stats.memory_bytes > 0 && stats.memory_bytes < stats.memory_limit_bytes);
    assert!(stats.pids >= 1 && stats.pids < 10);
    assert!(stats.cpu_usage_ns > 0);
    assert!(
        stats.disk_total_bytes > 40 * 1024 * 1024 && stats.disk_total_bytes <= 64 * 1024 * 1024
    );
    assert!(stats.disk_used_bytes > stats.disk_total_bytes * 9 / 10);
    let (code, _, _) = env.sh(&id, "rm /tmp/big");
    assert_eq!(code, 0);

    // Memory limit: the OOM killer takes the hog, not the init, and stats count it.
    let (code, _, _) = env.exec(
        &id,
        None,
        &["python3", "-c", "x = bytearray(400 * 1024 * 1024)"],
    );
    assert_eq!(code, 137);
    assert!(env.rt.stats(&id).unwrap().oom_kills >= 1);
    assert!(matches!(
        env.rt.state(&id).unwrap(),
        ContainerState::Running { .. }
    ));

    // Kill, then delete leaves nothing behind.
    env.rt.kill(&id).unwrap();
    assert_eq!(env.rt.state(&id).unwrap(), ContainerState::Stopped);
    env.rt.kill(&id).unwrap();
    env.rt.delete(&id).unwrap();
    assert_eq!(env.rt.state(&id).unwrap(), ContainerState::Missing);
    assert!(env.rt.list().unwrap().is_empty());
    assert!(
        mounts_mentioning(&env.tmp).is_empty(),
        "{:?}",
        mounts_mentioning(&env.tmp)
    );
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
    assert!(!env.rt.sandbox_dir(&id).exists());
    env.rt.delete(&id).unwrap();
}

#[test]
fn survives_runtime_restart_and_reconciles_half_created() {
    if !can_run() {
        return;
    }
    let env = Env::new();
    let id = new_id();
    let created = env.rt.create(&env.spec(&id, 32)).unwrap();
    // A second runtime over the same data dir (a restarted control plane) sees it.
    let rt2 = RuncRuntime::new(RuntimeConfig::new(env.tmp.join("data"))).unwrap();
    assert_eq!(
        rt2.state(&id).unwrap(),
        ContainerState::Running { pid: created.pid }
    );
    assert_eq!(rt2.cgroups_path(&id), env.rt.cgroups_path(&id));
    // A half-created sandbox (dir only) is listed and deleted.
    let half = new_id();
    std::fs::create_dir_all(env.rt.sandbox_dir(&half).join("rootfs")).unwrap();
    let mut ids = rt2.list().unwrap();
    ids.sort();
    let mut want = vec![id.clone(), half.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(rt2.state(&half).unwrap(), ContainerState::Missing);
    rt2.delete(&half).unwrap();
    assert!(!env.rt.sandbox_dir(&half).exists());
    // Duplicates and bad ids are rejected.
    assert!(matches!(
        env.rt.create(&env.spec(&id, 32)),
        Err(cove_runtime::RuntimeError::AlreadyExists(_))
    ));
    assert!(matches!(
        env.rt.state("../../etc"),
        Err(cove_runtime::RuntimeError::InvalidId(_))
    ));
    rt2.delete(&id).unwrap();
    assert!(rt2.list().unwrap().is_empty());
}

#[test]
fn failed_create_cleans_up() {
    if !can_run() {
        return;
    }
    let env = Env::new();
    let id = new_id();
    let mut spec = env.spec(&id, 32);
    spec.agent_binary = env.tmp.join("does-not-exist");
    let err = env.rt.create(&spec).unwrap_err();
    eprintln!("expected failure: {err}");
    assert!(env.rt.list().unwrap().is_empty());
    assert!(mounts_mentioning(&env.tmp).is_empty());
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn create_delete_timings() {
    if !can_run() {
        return;
    }
    let env = Env::new();
    // Warm the disk template cache and the page cache once.
    let warm = new_id();
    env.rt.create(&env.spec(&warm, 1024)).unwrap();
    env.rt.delete(&warm).unwrap();
    let (mut disk, mut overlay, mut bundle, mut runc, mut total, mut del) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..10 {
        let id = new_id();
        let (_, t) = env.rt.create_timed(&env.spec(&id, 1024)).unwrap();
        disk.push(t.disk);
        overlay.push(t.overlay);
        bundle.push(t.bundle);
        runc.push(t.runc);
        total.push(t.total);
        let s = Instant::now();
        env.rt.delete(&id).unwrap();
        del.push(s.elapsed());
    }
    eprintln!(
        "create median {:?} (disk {:?}, overlay {:?}, bundle {:?}, runc run {:?}); delete median {:?}",
        median(total),
        median(disk),
        median(overlay),
        median(bundle),
        median(runc),
        median(del)
    );
    assert!(mounts_mentioning(&env.tmp).is_empty());
}

#[test]
fn parallel_creates_and_template_idempotence() {
    if !can_run() {
        return;
    }
    let env = Env::new();
    // A second ensure_base_template reuses the first template.
    let again = base::ensure_base_template(&env.tmp.join("templates/base")).unwrap();
    assert_eq!(again, env.rootfs);
    let root = &env.rootfs.lower_dirs[0];
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("user:x:1000:1000:user:/home/user:/bin/bash"));
    use std::os::unix::fs::MetadataExt;
    let home = std::fs::metadata(root.join("home/user")).unwrap();
    assert_eq!(
        (home.uid(), home.gid(), home.mode() & 0o7777),
        (1000, 1000, 0o755)
    );
    assert_eq!(
        std::fs::metadata(root.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );

    // Loop devices and cgroups are claimed concurrently without collisions.
    let ids: Vec<String> = (0..4).map(|_| new_id()).collect();
    std::thread::scope(|s| {
        for id in &ids {
            let env = &env;
            s.spawn(move || env.rt.create(&env.spec(id, 32)).unwrap());
        }
    });
    for id in &ids {
        assert!(matches!(
            env.rt.state(id).unwrap(),
            ContainerState::Running { .. }
        ));
        let (code, out, _) = env.sh(id, "hostname");
        assert_eq!((code, out.trim()), (0, id.as_str()));
    }
    std::thread::scope(|s| {
        for id in &ids {
            let env = &env;
            s.spawn(move || env.rt.delete(id).unwrap());
        }
    });
    assert!(env.rt.list().unwrap().is_empty());
    assert!(mounts_mentioning(&env.tmp).is_empty());
}
