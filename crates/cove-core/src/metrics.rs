//! Prometheus metrics of the sandbox service, rendered in the text exposition format (0.0.4).
//!
//! Hand-written rather than a metrics crate: a handful of counters and fixed-bucket histograms
//! over atomics cost nothing on the hot path and add no dependency. The recorders are process
//! globals because one process runs one service; several services in one test process simply
//! share them, which no test relies on either way.

use crate::sandbox::SandboxService;
use cove_types::ErrorCode;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds in seconds. Dense below 100 ms because that is where create and exec live and
/// where regressions matter; the tail catches stuck boots and long execs.
const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
    60.0,
];

/// A fixed-bucket histogram. Buckets hold non-cumulative counts (one atomic add per observation);
/// they are summed when rendered. The sum is kept in microseconds so it stays an integer atomic.
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len() + 1],
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cum = 0u64;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cum}");
        }
        cum += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cum}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let count = self.count.load(Ordering::Relaxed);
        if labels.is_empty() {
            let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
        } else {
            let _ = writeln!(
                out,
                "{name}_sum{{{labels}}} {sum}\n{name}_count{{{labels}}} {count}"
            );
        }
    }
}

/// Phases of a create, in order; see [`SandboxService::create`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    /// Inserting the `booting` record.
    StoreInsert = 0,
    /// `Runtime::create`: disk image, overlay, bundle, `runc run --detach`.
    Runtime,
    /// Polling the agent's `/health` until it answers.
    AgentReady,
    /// `POST /init` to the agent.
    Init,
    /// Recording the sandbox `running`.
    StoreUpdate,
}

const PHASE_NAMES: [&str; 5] = [
    "store_insert",
    "runtime",
    "agent_ready",
    "init",
    "store_update",
];

pub(crate) static CREATE: Histogram = Histogram::new();
pub(crate) static EXEC: Histogram = Histogram::new();
pub(crate) static DELETE: Histogram = Histogram::new();
static PHASES: [Histogram; 5] = [const { Histogram::new() }; 5];

static CREATE_FAILURES: AtomicU64 = AtomicU64::new(0);
static EXEC_FAILURES: AtomicU64 = AtomicU64::new(0);
static ENDED_KILLED: AtomicU64 = AtomicU64::new(0);
static ENDED_ERROR: AtomicU64 = AtomicU64::new(0);
static BOOTING: AtomicI64 = AtomicI64::new(0);
static POOL_HITS: AtomicU64 = AtomicU64::new(0);
static POOL_MISSES: AtomicU64 = AtomicU64::new(0);
static STOPPING: AtomicI64 = AtomicI64::new(0);
static AGENT_ERRORS: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

pub(crate) fn phase(p: Phase, d: Duration) {
    PHASES[p as usize].observe(d);
}

pub(crate) fn pool_hit() {
    POOL_HITS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn pool_miss() {
    POOL_MISSES.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn create_failed() {
    CREATE_FAILURES.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn exec_failed() {
    EXEC_FAILURES.fetch_add(1, Ordering::Relaxed);
}

/// A sandbox reached a terminal state; `error` tells a failure from a kill.
pub(crate) fn ended(error: bool) {
    let c = if error { &ENDED_ERROR } else { &ENDED_KILLED };
    c.fetch_add(1, Ordering::Relaxed);
}

/// An agent call failed (counted where its error enters the core's vocabulary).
pub(crate) fn agent_error(code: ErrorCode) {
    if let Ok(mut m) = AGENT_ERRORS.lock() {
        *m.entry(code.as_str()).or_insert(0) += 1;
    }
}

/// Counts one in-flight operation in a gauge for as long as it lives, so early returns and
/// cancelled requests (a client hanging up drops the handler future) never leave it skewed.
pub(crate) struct InFlight(&'static AtomicI64);

impl InFlight {
    pub(crate) fn booting() -> Self {
        BOOTING.fetch_add(1, Ordering::Relaxed);
        Self(&BOOTING)
    }
    pub(crate) fn stopping() -> Self {
        STOPPING.fetch_add(1, Ordering::Relaxed);
        Self(&STOPPING)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

impl SandboxService {
    /// Every metric in the Prometheus text format. Live states come from in-memory counters (the
    /// live map and in-flight gauges), so a scrape never touches the database.
    pub fn render_metrics(&self) -> String {
        let running = self.inner.live.read().map(|m| m.len()).unwrap_or(0);
        let mut out = String::with_capacity(8 * 1024);
        header(
            &mut out,
            "cove_sandboxes",
            "gauge",
            "Sandboxes of this server by live state.",
        );
        for (state, n) in [
            ("booting", BOOTING.load(Ordering::Relaxed).max(0)),
            ("running", i64::try_from(running).unwrap_or(i64::MAX)),
            ("stopping", STOPPING.load(Ordering::Relaxed).max(0)),
        ] {
            let _ = writeln!(out, "cove_sandboxes{{state=\"{state}\"}} {n}");
        }
        header(
            &mut out,
            "cove_sandboxes_ended_total",
            "counter",
            "Sandboxes that reached a terminal state since start.",
        );
        for (state, c) in [("killed", &ENDED_KILLED), ("error", &ENDED_ERROR)] {
            let n = c.load(Ordering::Relaxed);
            let _ = writeln!(out, "cove_sandboxes_ended_total{{state=\"{state}\"}} {n}");
        }
        for (name, h, help) in [
            (
                "cove_sandbox_create_seconds",
                &CREATE,
                "Successful creates, request to running (files and setup included).",
            ),
            (
                "cove_exec_seconds",
                &EXEC,
                "Successful execs, start to exit as seen by the control plane.",
            ),
            (
                "cove_sandbox_delete_seconds",
                &DELETE,
                "Deletes of live sandboxes, including container and disk teardown.",
            ),
        ] {
            header(&mut out, name, "histogram", help);
            h.render(&mut out, name, "");
        }
        header(
            &mut out,
            "cove_sandbox_create_phase_seconds",
            "histogram",
            "Where create time goes, per phase of a successful boot.",
        );
        for (name, h) in PHASE_NAMES.iter().zip(PHASES.iter()) {
            h.render(
                &mut out,
                "cove_sandbox_create_phase_seconds",
                &format!("phase=\"{name}\""),
            );
        }
        for (name, c, help) in [
            (
                "cove_sandbox_create_failures_total",
                &CREATE_FAILURES,
                "Creates that failed after validation.",
            ),
            (
                "cove_exec_failures_total",
                &EXEC_FAILURES,
                "Execs that failed (not counting non-zero exit codes).",
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", c.load(Ordering::Relaxed));
        }
        for (name, c, help) in [
            (
                "cove_pool_hits_total",
                &POOL_HITS,
                "Creates served by claiming a warm-pool sandbox.",
            ),
            (
                "cove_pool_misses_total",
                &POOL_MISSES,
                "Creates for a pooled template that found no matching idle sandbox.",
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", c.load(Ordering::Relaxed));
        }
        header(
            &mut out,
            "cove_pool_idle",
            "gauge",
            "Idle warm-pool sandboxes, by template.",
        );
        for p in self.pools() {
            let _ = writeln!(
                out,
                "cove_pool_idle{{template=\"{}\"}} {}",
                p.template_id, p.idle
            );
        }
        header(
            &mut out,
            "cove_agent_rpc_errors_total",
            "counter",
            "Failed agent calls by resulting error code.",
        );
        if let Ok(m) = AGENT_ERRORS.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(out, "cove_agent_rpc_errors_total{{code=\"{code}\"}} {n}");
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets() {
        let h = Histogram::new();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(40));
        h.observe(Duration::from_secs(100));
        let mut out = String::new();
        h.render(&mut out, "x", "phase=\"a\"");
        assert!(out.contains("x_bucket{phase=\"a\",le=\"0.0005\"} 1\n"));
        assert!(out.contains("x_bucket{phase=\"a\",le=\"0.035\"} 1\n"));
        assert!(out.contains("x_bucket{phase=\"a\",le=\"0.05\"} 2\n"));
        assert!(out.contains("x_bucket{phase=\"a\",le=\"60\"} 2\n"));
        assert!(out.contains("x_bucket{phase=\"a\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_count{phase=\"a\"} 3\n"));
        assert!(out.contains("x_sum{phase=\"a\"} 100.0403\n"));
    }

    #[test]
    fn gauge_guard_restores_on_drop() {
        let before = STOPPING.load(Ordering::Relaxed);
        {
            let _g = InFlight::stopping();
            assert_eq!(STOPPING.load(Ordering::Relaxed), before + 1);
        }
        assert_eq!(STOPPING.load(Ordering::Relaxed), before);
    }
}
