//! Reference points measured in the same run, so every Cove figure is also a ratio against what
//! the machine can do at all: a bare fork+exec, namespaces+chroot without any runtime, and an OCI
//! runtime (runc, crun) starting `/bin/true` from a minimal bundle.
//!
//! All of them use one throwaway root: `bin`, `lib*` symlinks into `/usr` (merged-/usr style) and
//! the host's `/usr`, which is what Cove's `base` template does too. runc and crun bind `/usr` in
//! their own mount namespace; the unshare baseline needs a host-side read-only bind, which the
//! bench's cleanup removes.

use anyhow::{bail, Context};
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Name prefix of baseline containers and their cgroups (unique per bench process).
pub fn container_prefix() -> String {
    format!("cove-bench-{}-", std::process::id())
}

/// The throwaway root and bundle.
pub struct Baseline {
    dir: PathBuf,
    rootfs: PathBuf,
}

fn time_runs(
    n: usize,
    mut once: impl FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Duration>> {
    // One untimed run warms the page cache, so the first sample is not a disk read.
    once(usize::MAX)?;
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        once(i)?;
        v.push(t.elapsed());
    }
    Ok(v)
}

fn run_ok(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

impl Baseline {
    /// Builds the root under `tmp/baseline`.
    pub fn prepare(tmp: &Path) -> anyhow::Result<Baseline> {
        let dir = tmp.join("baseline");
        let rootfs = dir.join("rootfs");
        for d in ["usr", "proc", "dev", "sys", "tmp", "etc"] {
            fs::create_dir_all(rootfs.join(d)).context("creating the baseline rootfs")?;
        }
        for l in ["bin", "sbin", "lib", "lib64"] {
            if Path::new("/usr").join(l).exists() {
                symlink(format!("usr/{l}"), rootfs.join(l)).context("baseline rootfs symlink")?;
            }
        }
        Ok(Baseline { dir, rootfs })
    }

    /// `fork` + `exec` of `/bin/true`, waited for.
    pub fn fork_exec(&self, n: usize) -> anyhow::Result<Vec<Duration>> {
        time_runs(n, |_| run_ok(&mut Command::new("/bin/true"), "/bin/true"))
    }

    /// `unshare -m -p -u -i -n --fork chroot <root> /bin/true`.
    pub fn unshare_chroot(&self, n: usize) -> anyhow::Result<Vec<Duration>> {
        let usr = self.rootfs.join("usr");
        bind_ro(Path::new("/usr"), &usr)?;
        let res = time_runs(n, |_| {
            run_ok(
                Command::new("unshare")
                    .args(["-m", "-p", "-u", "-i", "-n", "--fork", "chroot"])
                    .arg(&self.rootfs)
                    .arg("/bin/true"),
                "unshare ... chroot /bin/true",
            )
        });
        unbind(&usr);
        res
    }

    /// `<runtime> run` of `/bin/true` from a bundle equal to `runc spec`'s default (without a
    /// terminal) plus the `/usr` bind.
    pub fn oci(&self, runtime: &str, n: usize) -> anyhow::Result<Vec<Duration>> {
        let bundle = self.dir.join(format!("bundle-{runtime}"));
        let state = self.dir.join(format!("state-{runtime}"));
        fs::create_dir_all(&bundle)?;
        fs::create_dir_all(&state)?;
        let prefix = container_prefix();
        time_runs(n, |i| {
            let id = format!("{prefix}{runtime}-{i}");
            let cfg = bundle_config(&self.rootfs, &format!("/{id}"));
            fs::write(bundle.join("config.json"), cfg.to_string())?;
            run_ok(
                Command::new(runtime)
                    .arg("--root")
                    .arg(&state)
                    .arg("run")
                    .arg("--bundle")
                    .arg(&bundle)
                    .arg(&id),
                &format!("{runtime} run /bin/true"),
            )
        })
    }
}

fn bind_ro(src: &Path, dst: &Path) -> anyhow::Result<()> {
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes());
    let (s, d) = (c(src)?, c(dst)?);
    // SAFETY: valid NUL-terminated paths; null fstype/data are allowed for bind mounts.
    let rc = unsafe {
        libc::mount(
            s.as_ptr(),
            d.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        bail!(
            "bind {} : {}",
            dst.display(),
            std::io::Error::last_os_error()
        );
    }
    // A bind cannot be made read-only in the same call; the remount does it.
    // SAFETY: as above.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            d.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        unbind(dst);
        bail!("remount {} read-only: {e}", dst.display());
    }
    Ok(())
}

fn unbind(p: &Path) {
    if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) {
        // SAFETY: valid NUL-terminated path.
        unsafe {
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}

fn bundle_config(rootfs: &Path, cgroups_path: &str) -> serde_json::Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/true"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": rootfs, "readonly": true},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]}
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}
