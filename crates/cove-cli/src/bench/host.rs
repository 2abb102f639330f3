//! What the bench reads from the host: the machine description, mounts, loop devices, cgroups,
//! network namespaces and memory figures. Everything comes from /proc and /sys so the numbers do
//! not depend on which tools happen to be installed.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The machine a run was measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub mem_total_mib: u64,
    pub kernel: String,
    pub os: String,
    pub cgroup: &'static str,
    pub runc: Option<String>,
    pub crun: Option<String>,
    pub loadavg_at_start: String,
    pub cove_version: &'static str,
    pub build: &'static str,
    pub started_at: String,
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// First line of `<bin> --version`, or `None` when it is not installed.
pub fn tool_version(bin: &str) -> Option<String> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| first_line(&String::from_utf8_lossy(&out.stdout)))
}

pub fn cgroup_mode() -> &'static str {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else if Path::new("/sys/fs/cgroup/unified").exists() {
        "v1 (hybrid)"
    } else {
        "v1"
    }
}

pub fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let os = fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cpu_model,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mem_total_mib: meminfo().get("MemTotal").copied().unwrap_or(0) / 1024,
        kernel: first_line(&fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default()),
        os,
        cgroup: cgroup_mode(),
        runc: tool_version("runc"),
        crun: tool_version("crun"),
        loadavg_at_start: first_line(&fs::read_to_string("/proc/loadavg").unwrap_or_default()),
        cove_version: env!("CARGO_PKG_VERSION"),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        started_at: chrono::Utc::now().to_rfc3339(),
    }
}

/// `/proc/meminfo` in KiB by field name.
pub fn meminfo() -> BTreeMap<String, u64> {
    fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let kib = v.split_whitespace().next()?.parse().ok()?;
            Some((k.to_string(), kib))
        })
        .collect()
}

/// A `kB` field of a /proc status-like file, in KiB.
fn kib_field(path: &str, field: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Resident set of a process, KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    kib_field(&format!("/proc/{pid}/status"), "VmRSS")
}

/// `(Pss, Rss)` of a process in KiB, from `smaps_rollup`.
pub fn pss_rss_kib(pid: u32) -> Option<(u64, u64)> {
    let p = format!("/proc/{pid}/smaps_rollup");
    Some((kib_field(&p, "Pss")?, kib_field(&p, "Rss")?))
}

/// The process's cgroup path in the memory hierarchy (v1) or the unified one (v2).
pub fn memory_cgroup_of(pid: u32) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mut unified = None;
    for l in s.lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        if ctrls.split(',').any(|c| c == "memory") {
            return Some(path.to_string());
        }
        if ctrls.is_empty() {
            unified = Some(path.to_string());
        }
    }
    unified
}

/// `(usage, kernel part of it)` in bytes charged to a cgroup.
pub fn cgroup_memory(path: &str) -> Option<(u64, u64)> {
    let read = |p: PathBuf| -> Option<u64> { fs::read_to_string(p).ok()?.trim().parse().ok() };
    let v1 = Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/'));
    if v1.is_dir() {
        let usage = read(v1.join("memory.usage_in_bytes"))?;
        let kmem = read(v1.join("memory.kmem.usage_in_bytes")).unwrap_or(0);
        return Some((usage, kmem));
    }
    let v2 = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let usage = read(v2.join("memory.current"))?;
    let kernel = fs::read_to_string(v2.join("memory.stat"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("kernel ")?.trim().parse().ok())
        })
        .unwrap_or(0);
    Some((usage, kernel))
}

/// Mount points (unescaped enough for our own ASCII paths) under `root`, deepest first.
pub fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(root))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v
}

/// Loop devices whose backing file lies under `root`.
pub fn loops_under(root: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let backing = fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            Path::new(backing.trim())
                .starts_with(root)
                .then(|| format!("/dev/{name}"))
        })
        .collect()
}

/// Directories of cgroup `rel` (e.g. `/cove-1234abcd`) in every mounted hierarchy.
pub fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let rel = rel.trim_start_matches('/');
    let mut out = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        out.push(root.join(rel));
    } else if let Ok(rd) = fs::read_dir(root) {
        for e in rd.flatten() {
            // Skip the cpu,cpuacct-style symlinks so each hierarchy is visited once.
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.path().join(rel));
            }
        }
    }
    out.into_iter().filter(|p| p.is_dir()).collect()
}

/// Child cgroups (one per sandbox) under `rel`, counted over all hierarchies.
pub fn cgroup_children(rel: &str) -> usize {
    cgroup_dirs(rel)
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .count()
}

/// Network-namespace inode of a process.
pub fn netns_of(pid: u32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|m| m.ino())
}

/// Of `wanted` namespace inodes, how many are still held by a process or an nsfs mount.
pub fn netns_alive(wanted: &[u64]) -> usize {
    use std::os::unix::fs::MetadataExt;
    let mut alive = std::collections::BTreeSet::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Ok(m) = fs::metadata(e.path().join("ns/net")) {
                alive.insert(m.ino());
            }
        }
    }
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for l in info.lines().filter(|l| l.contains(" nsfs ")) {
        // The root field of an nsfs mount reads `net:[<inode>]`.
        if let Some(ino) = l
            .split(' ')
            .nth(3)
            .and_then(|r| r.strip_prefix("net:["))
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|r| r.parse().ok())
        {
            alive.insert(ino);
        }
    }
    wanted.iter().filter(|i| alive.contains(i)).count()
}
