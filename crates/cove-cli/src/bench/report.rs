//! The result document, the printed table and the cold-create breakdown (from the server's debug
//! log and its `/metrics`).

use super::host::{self, Machine};
use super::server::{BenchServer, SYSTEM_KEY};
use super::stats::{median, round3};
use super::Plan;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Everything one run produced.
pub struct Results {
    pub machine: Machine,
    pub plan: Plan,
    pub metrics: BTreeMap<&'static str, Json>,
    pub baselines: BTreeMap<&'static str, Json>,
    pub skipped: BTreeMap<String, String>,
    pub details: BTreeMap<&'static str, Json>,
    /// Median client-side (create, first exec) of the cold run, for the breakdown.
    pub cold_split: (Option<f64>, Option<f64>),
    /// The private server's cgroup parent (e.g. `/cove-1234abcd`).
    pub cgroup_parent: Option<String>,
}

const LATENCY_METRICS: [&str; 5] = [
    "cold_create_exec",
    "pool_create_exec",
    "exec_rtt",
    "concurrent_create_50",
    "delete",
];
const VALUE_METRICS: [&str; 4] = [
    "exec_throughput",
    "file_write",
    "file_read",
    "density_mem_per_sandbox",
];
const BASELINES: [&str; 4] = [
    "fork_exec_true",
    "unshare_chroot_true",
    "runc_true",
    "crun_true",
];

impl Results {
    pub fn new(plan: Plan) -> Results {
        Results {
            machine: host::machine(),
            plan,
            metrics: BTreeMap::new(),
            baselines: BTreeMap::new(),
            skipped: BTreeMap::new(),
            details: BTreeMap::new(),
            cold_split: (None, None),
            cgroup_parent: None,
        }
    }

    fn p50(v: Option<&Json>) -> Option<f64> {
        v?.get("p50")?.as_f64()
    }

    /// Each latency metric's median over each baseline's median.
    fn ratios(&self) -> Json {
        let mut out = serde_json::Map::new();
        for m in LATENCY_METRICS {
            let Some(x) = Self::p50(self.metrics.get(m)) else {
                continue;
            };
            let mut row = serde_json::Map::new();
            for b in BASELINES {
                if let Some(y) = Self::p50(self.baselines.get(b)).filter(|y| *y > 0.0) {
                    row.insert(b.into(), json!(round3(x / y)));
                }
            }
            out.insert(m.into(), Json::Object(row));
        }
        Json::Object(out)
    }

    pub fn to_json(&self) -> Json {
        json!({
            "machine": self.machine,
            "plan": format!("{:?}", self.plan),
            "metrics": self.metrics,
            "baselines": self.baselines,
            "ratios": self.ratios(),
            "skipped": self.skipped,
            "details": self.details,
        })
    }
}

fn f(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.2}"))
}

fn get(v: &Json, k: &str) -> Option<f64> {
    v.get(k)?.as_f64()
}

pub fn print(r: &Results) {
    let m = &r.machine;
    println!(
        "\ncove bench ({} build) on {} × {}, {} MiB, kernel {}, cgroup {}",
        m.build, m.cpus, m.cpu_model, m.mem_total_mib, m.kernel, m.cgroup
    );
    let runc = Results::p50(r.baselines.get("runc_true"));
    let crun = Results::p50(r.baselines.get("crun_true"));
    println!(
        "\n{:<24} {:>9} {:>9} {:>9} {:>9}  {:<5} {:>7} {:>7}",
        "latency", "p50", "p90", "p99", "max", "unit", "×runc", "×crun"
    );
    let ratio = |x: Option<f64>, b: Option<f64>| match (x, b) {
        (Some(x), Some(b)) if b > 0.0 => format!("{:.2}", x / b),
        _ => "-".into(),
    };
    let rows = LATENCY_METRICS
        .iter()
        .map(|k| (*k, r.metrics.get(k)))
        .chain(BASELINES.iter().map(|k| (*k, r.baselines.get(k))));
    for (k, v) in rows {
        let Some(v) = v else { continue };
        let p50 = get(v, "p50");
        println!(
            "{:<24} {:>9} {:>9} {:>9} {:>9}  {:<5} {:>7} {:>7}",
            k,
            f(p50),
            f(get(v, "p90")),
            f(get(v, "p99")),
            f(get(v, "max")),
            "ms",
            ratio(p50, runc),
            ratio(p50, crun)
        );
    }
    if let Some(t) = r
        .metrics
        .get("concurrent_create_50")
        .and_then(|v| get(v, "total_ms"))
    {
        println!(
            "{:<24} {:>9.2} ms for the whole batch",
            "  concurrent total", t
        );
    }
    if let Some(v) = r.metrics.get("pool_create_exec") {
        println!(
            "{:<24} {} hits, {} misses (minIdle {})",
            "  pool claims",
            v.get("hits").and_then(Json::as_u64).unwrap_or(0),
            v.get("misses").and_then(Json::as_u64).unwrap_or(0),
            v.get("min_idle").and_then(Json::as_u64).unwrap_or(0),
        );
    }
    println!();
    for k in VALUE_METRICS {
        if let Some(v) = r.metrics.get(k) {
            println!(
                "{:<24} {:>9} {}",
                k,
                f(get(v, "value")),
                v.get("unit").and_then(Json::as_str).unwrap_or("")
            );
        }
    }
    for (k, v) in &r.details {
        if matches!(
            *k,
            "create_breakdown"
                | "density_memory_mib_per_sandbox"
                | "density_create_drift"
                | "cleanup_after_delete"
                | "final_cleanup"
        ) {
            println!("\n{k}: {v}");
        }
    }
    if !r.skipped.is_empty() {
        println!("\nskipped:");
        for (k, why) in &r.skipped {
            println!("  {k}: {why}");
        }
    }
}

/// Parses a `Debug`-printed `Duration` (`41.2ms`, `812µs`, `1.5s`) into milliseconds.
fn debug_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let x: f64 = num.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-6,
        "µs" | "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        _ => return None,
    };
    Some(x * scale)
}

/// Drops ANSI colour sequences in case the server's log is coloured anyway.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c2 in chars.by_ref() {
                if c2.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Per-phase timings of the given sandboxes' creates, from the server's debug lines.
fn phases_from_log(log: &str, ids: &[String]) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in log.lines().map(strip_ansi) {
        if !ids.iter().any(|id| line.contains(id.as_str())) {
            continue;
        }
        if line.contains("sandbox booted") {
            for tok in line.split_whitespace() {
                if let Some((k, v)) = tok.split_once('=') {
                    if let (Some(k), Ok(v)) = (k.strip_suffix("_ms"), v.parse::<f64>()) {
                        out.entry(k.to_string()).or_default().push(v);
                    }
                }
            }
        } else if let Some(rest) = line
            .split_once("CreateTimings {")
            .map(|(_, r)| r.trim_end().trim_end_matches('}'))
        {
            for part in rest.split(',') {
                if let Some((k, v)) = part.split_once(':') {
                    if let Some(ms) = debug_duration_ms(v) {
                        out.entry(format!("runtime.{}", k.trim()))
                            .or_default()
                            .push(ms);
                    }
                }
            }
        }
    }
    out
}

/// Mean of one create phase since the server started, from `/metrics`.
fn phase_mean_ms(metrics: &str, phase: &str) -> Option<f64> {
    let find = |suffix: &str| -> Option<f64> {
        let key = format!("cove_sandbox_create_phase_seconds_{suffix}{{phase=\"{phase}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(key.as_str()))?
            .trim()
            .parse()
            .ok()
    };
    let (sum, count) = (find("sum")?, find("count")?);
    (count > 0.0).then(|| sum / count * 1e3)
}

fn scrape(srv: &BenchServer) -> Result<String, String> {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = http
        .get(format!("{}/metrics", srv.url))
        .bearer_auth(SYSTEM_KEY)
        .send()
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("GET /metrics: {}", resp.status()));
    }
    resp.text().map_err(|e| e.to_string())
}

/// Where the median cold create went: client-side figures, server phases from the debug log,
/// and HTTP + everything unaccounted as the remainder.
pub fn breakdown(srv: &BenchServer, ids: &[String], split: &(Option<f64>, Option<f64>)) -> Json {
    let log = std::fs::read_to_string(&srv.log).unwrap_or_default();
    let phases = phases_from_log(&log, ids);
    let mut out = serde_json::Map::new();
    out.insert("client_create_p50_ms".into(), json!(split.0.map(round3)));
    out.insert(
        "client_first_exec_p50_ms".into(),
        json!(split.1.map(round3)),
    );
    let mut server_sum = 0.0;
    for (k, v) in &phases {
        if let Some(m) = median(v) {
            out.insert(format!("{k}_p50_ms"), json!(round3(m)));
            if !k.starts_with("runtime.") {
                server_sum += m;
            }
        }
    }
    match scrape(srv) {
        Ok(metrics) => {
            let insert = phase_mean_ms(&metrics, "store_insert");
            out.insert("store_insert_mean_ms".into(), json!(insert.map(round3)));
            server_sum += insert.unwrap_or(0.0);
            out.insert("metrics_endpoint".into(), json!("ok"));
        }
        Err(e) => {
            out.insert("metrics_endpoint".into(), json!(e));
        }
    }
    if let Some(c) = split.0 {
        out.insert(
            "http_and_unattributed_ms".into(),
            json!(round3(c - server_sum)),
        );
    }
    Json::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_log_lines() {
        let id = "abcdefghij0123456789".to_string();
        let log = format!(
            "2025 DEBUG cove_runtime::runc: sandbox container created id={id} pid=7 \
             t=CreateTimings {{ disk: 2.5ms, overlay: 400µs, bundle: 1ms, runc: 38.2ms, total: 42.1ms }}\n\
             2025 DEBUG create{{sandbox_id={id}}}: cove_core: sandbox booted sandbox_id={id} \
             runtime_ms=42.5 agent_ready_ms=3.25 init_ms=0.8 store_update_ms=1.1\n\
             2025 DEBUG other line runtime_ms=99\n"
        );
        let p = phases_from_log(&log, &[id]);
        assert_eq!(p["runtime.disk"], vec![2.5]);
        assert_eq!(p["runtime.overlay"], vec![0.4]);
        assert_eq!(p["runtime.runc"], vec![38.2]);
        assert_eq!(p["runtime"], vec![42.5]);
        assert_eq!(p["agent_ready"], vec![3.25]);
        assert_eq!(p.get("store_update").map(Vec::len), Some(1));
        assert_eq!(debug_duration_ms("1.5s"), Some(1500.0));
        assert_eq!(strip_ansi("\u{1b}[3mx\u{1b}[0m=1"), "x=1");
    }

    #[test]
    fn reads_phase_mean() {
        let m = "cove_sandbox_create_phase_seconds_sum{phase=\"store_insert\"} 0.004\n\
                 cove_sandbox_create_phase_seconds_count{phase=\"store_insert\"} 2\n";
        assert_eq!(phase_mean_ms(m, "store_insert").map(round3), Some(2.0));
        assert_eq!(phase_mean_ms(m, "init"), None);
    }
}
