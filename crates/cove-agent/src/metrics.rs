//! `GET /metrics`: CPU, memory and disk usage of the sandbox, honouring cgroup limits where the
//! container exposes them so the numbers reflect the sandbox rather than the host.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Metrics {
    pub ts: i64,
    pub cpu_count: u32,
    pub cpu_used_pct: f64,
    pub mem_total: u64,
    pub mem_used: u64,
    pub mem_cache: u64,
    pub mem_total_mib: u64,
    pub mem_used_mib: u64,
    pub disk_used: u64,
    pub disk_total: u64,
}

fn meminfo() -> (u64, u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let total = field("MemTotal:");
    let avail = field("MemAvailable:");
    let cache = field("Cached:") + field("Buffers:");
    (total, total.saturating_sub(avail), cache)
}

/// cgroup v2 memory limit and usage, if the sandbox has a limit.
fn cgroup_memory() -> Option<(u64, u64)> {
    let max = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?;
    let max: u64 = max.trim().parse().ok()?;
    let cur: u64 = std::fs::read_to_string("/sys/fs/cgroup/memory.current")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some((max, cur))
}

fn cpu_count() -> u32 {
    let affinity = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|i| set.is_set(*i).unwrap_or(false))
                .count() as u32
        })
        .unwrap_or(1)
        .max(1);
    // cgroup v2 quota "max 100000" means unlimited; "200000 100000" means two CPUs.
    let quota = std::fs::read_to_string("/sys/fs/cgroup/cpu.max")
        .ok()
        .and_then(|t| {
            let mut it = t.split_whitespace();
            let q: f64 = it.next()?.parse().ok()?;
            let p: f64 = it.next()?.parse().ok()?;
            (p > 0.0).then(|| (q / p).ceil() as u32)
        });
    match quota {
        Some(q) if q > 0 => q.min(affinity),
        _ => affinity,
    }
}

/// (busy, total) jiffies from the aggregate line of /proc/stat.
fn cpu_times() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

// statvfs field widths are platform-specific; on the supported x86_64 target they are u64.
fn disk() -> (u64, u64) {
    match nix::sys::statvfs::statvfs("/") {
        Ok(s) => {
            let frag = s.fragment_size();
            let total = s.blocks() * frag;
            let free = s.blocks_free() * frag;
            (total.saturating_sub(free), total)
        }
        Err(_) => (0, 0),
    }
}

pub async fn collect() -> Metrics {
    let before = cpu_times();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = cpu_times();
    let cpu_used_pct = match (before, after) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            let pct = (b1.saturating_sub(b0)) as f64 * 100.0 / (t1 - t0) as f64;
            (pct * 100.0).round() / 100.0
        }
        _ => 0.0,
    };
    let (mut mem_total, mut mem_used, mem_cache) = meminfo();
    if let Some((max, cur)) = cgroup_memory() {
        if max < mem_total {
            mem_total = max;
            mem_used = cur.min(max);
        }
    }
    let (disk_used, disk_total) = disk();
    Metrics {
        ts: chrono::Utc::now().timestamp(),
        cpu_count: cpu_count(),
        cpu_used_pct,
        mem_total,
        mem_used,
        mem_cache,
        mem_total_mib: mem_total / (1024 * 1024),
        mem_used_mib: mem_used / (1024 * 1024),
        disk_used,
        disk_total,
    }
}
