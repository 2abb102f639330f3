//! Cgroup discovery and reading. runc creates the cgroups and writes the limits; this module only
//! finds where they are (cgroup v1, hybrid v1 + empty v2, or pure v2), reads usage numbers for
//! [`crate::Stats`] and removes directories runc left behind.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::mounts::read_mountinfo;
use crate::{RuntimeResult, Stats};

/// How cgroups are mounted on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CgroupLayout {
    /// Pure cgroup v2 at `root`.
    V2 { root: PathBuf },
    /// cgroup v1 hierarchies (controller or `name=` → mount point); `unified` is the v2 mount of
    /// hybrid hosts, where runc also places the container.
    V1 {
        controllers: BTreeMap<String, PathBuf>,
        unified: Option<PathBuf>,
    },
}

impl CgroupLayout {
    pub(crate) fn probe() -> RuntimeResult<Self> {
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            return Ok(Self::V2 {
                root: PathBuf::from("/sys/fs/cgroup"),
            });
        }
        let mut controllers = BTreeMap::new();
        let mut unified = None;
        for m in read_mountinfo()? {
            // A hierarchy mounted from a non-root cgroup (nested containers) appears more than
            // once; only the root mount maps paths the way runc does.
            if m.root != "/" {
                continue;
            }
            match m.fs_type.as_str() {
                "cgroup" => {
                    for opt in m.super_options.split(',') {
                        let known = matches!(
                            opt,
                            "cpu"
                                | "cpuacct"
                                | "cpuset"
                                | "memory"
                                | "devices"
                                | "freezer"
                                | "blkio"
                                | "pids"
                                | "hugetlb"
                                | "net_cls"
                                | "net_prio"
                                | "perf_event"
                                | "rdma"
                                | "misc"
                        ) || opt.starts_with("name=");
                        if known {
                            controllers
                                .entry(opt.to_string())
                                .or_insert_with(|| m.mount_point.clone());
                        }
                    }
                }
                "cgroup2" => unified = unified.or(Some(m.mount_point.clone())),
                _ => {}
            }
        }
        Ok(Self::V1 {
            controllers,
            unified,
        })
    }

    /// `true` for pure cgroup v2.
    pub(crate) fn is_v2(&self) -> bool {
        matches!(self, Self::V2 { .. })
    }

    /// `true` when the v1 memory controller can limit swap (`swapaccount=1`).
    pub(crate) fn v1_has_memsw(&self) -> bool {
        match self {
            Self::V1 { controllers, .. } => controllers
                .get("memory")
                .is_some_and(|m| m.join("memory.memsw.limit_in_bytes").exists()),
            Self::V2 { .. } => false,
        }
    }

    /// Every directory a container with `cgroups_path` may have, one per hierarchy, deepest
    /// hierarchy paths deduplicated (cpu and cpuacct are often co-mounted).
    pub(crate) fn dirs(&self, cgroups_path: &str) -> Vec<PathBuf> {
        let rel = cgroups_path.trim_start_matches('/');
        let mut out: Vec<PathBuf> = match self {
            Self::V2 { root } => vec![root.join(rel)],
            Self::V1 {
                controllers,
                unified,
            } => controllers
                .values()
                .chain(unified.iter())
                .map(|m| m.join(rel))
                .collect(),
        };
        out.sort();
        out.dedup();
        out
    }

    fn controller_dir(&self, controller: &str, cgroups_path: &str) -> Option<PathBuf> {
        let rel = cgroups_path.trim_start_matches('/');
        match self {
            Self::V2 { root } => Some(root.join(rel)),
            Self::V1 { controllers, .. } => controllers.get(controller).map(|m| m.join(rel)),
        }
    }

    /// Reads the cgroup half of [`Stats`]. `paths` are runc's recorded cgroup paths when known
    /// (they win over our own computation, e.g. if runc nested them differently).
    pub(crate) fn read_stats(
        &self,
        cgroups_path: &str,
        paths: &BTreeMap<String, PathBuf>,
    ) -> Stats {
        let dir = |c: &str| -> Option<PathBuf> {
            let key = if self.is_v2() { "" } else { c };
            paths
                .get(key)
                .cloned()
                .or_else(|| self.controller_dir(c, cgroups_path))
        };
        let mut s = Stats::default();
        if self.is_v2() {
            let Some(d) = dir("") else { return s };
            let usage = read_u64(&d.join("memory.current"));
            let inactive = keyed(&d.join("memory.stat"), "inactive_file");
            s.memory_bytes = usage.saturating_sub(inactive);
            s.memory_limit_bytes = read_u64(&d.join("memory.max"));
            s.cpu_usage_ns = keyed(&d.join("cpu.stat"), "usage_usec").saturating_mul(1000);
            s.pids = read_u64(&d.join("pids.current"));
            s.oom_kills = keyed(&d.join("memory.events"), "oom_kill");
        } else {
            if let Some(d) = dir("memory") {
                let usage = read_u64(&d.join("memory.usage_in_bytes"));
                let inactive = keyed(&d.join("memory.stat"), "total_inactive_file");
                s.memory_bytes = usage.saturating_sub(inactive);
                s.memory_limit_bytes = read_u64(&d.join("memory.limit_in_bytes"));
                s.oom_kills = keyed(&d.join("memory.oom_control"), "oom_kill");
            }
            if let Some(d) = dir("cpuacct") {
                s.cpu_usage_ns = read_u64(&d.join("cpuacct.usage"));
            }
            if let Some(d) = dir("pids") {
                s.pids = read_u64(&d.join("pids.current"));
            }
        }
        s
    }

    /// Removes the container's cgroup directories that still exist. Only empty cgroups can be
    /// removed (kernel rule), so this never disturbs a live container.
    pub(crate) fn remove(&self, cgroups_path: &str) -> Vec<(PathBuf, std::io::Error)> {
        let mut errs = Vec::new();
        for d in self.dirs(cgroups_path) {
            match fs::remove_dir(&d) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => errs.push((d, e)),
            }
        }
        errs
    }
}

/// A single-number cgroup file; `max` (unlimited) reads as `u64::MAX`, anything unreadable as 0.
fn read_u64(p: &Path) -> u64 {
    match fs::read_to_string(p) {
        Ok(s) if s.trim() == "max" => u64::MAX,
        Ok(s) => s.trim().parse().unwrap_or(0),
        Err(_) => 0,
    }
}

/// A `key value` line of a flat-keyed cgroup file.
fn keyed(p: &Path, key: &str) -> u64 {
    let Ok(text) = fs::read_to_string(p) else {
        return 0;
    };
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs_cover_every_hierarchy() {
        let mut controllers = BTreeMap::new();
        controllers.insert("memory".to_string(), PathBuf::from("/sys/fs/cgroup/memory"));
        controllers.insert(
            "cpu".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
        );
        controllers.insert(
            "cpuacct".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
        );
        let l = CgroupLayout::V1 {
            controllers,
            unified: Some(PathBuf::from("/sys/fs/cgroup/unified")),
        };
        let d = l.dirs("/cove-ab/x");
        assert_eq!(d.len(), 3);
        assert!(d.contains(&PathBuf::from("/sys/fs/cgroup/unified/cove-ab/x")));
        let v2 = CgroupLayout::V2 {
            root: PathBuf::from("/sys/fs/cgroup"),
        };
        assert_eq!(
            v2.dirs("/cove-ab/x"),
            vec![PathBuf::from("/sys/fs/cgroup/cove-ab/x")]
        );
    }
}
