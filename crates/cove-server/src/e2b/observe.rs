//! Metrics (live cgroup and disk numbers) and logs (the sandbox's lifecycle events and setup
//! output) in E2B's shapes.

use super::convert::alive;
use super::error::{E2bError, E2bResult};
use super::extract::{E2bPath, E2bQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use cove_api::{
    E2bSandboxLog, E2bSandboxLogEntry, E2bSandboxLogs, E2bSandboxLogsV2, E2bSandboxMetric,
    E2bSandboxesWithMetrics,
};
use cove_store::EventRecord;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// CPU use is a rate: two cgroup readings this far apart. Short enough for an interactive call,
/// long enough that scheduler granularity does not dominate.
const CPU_WINDOW: Duration = Duration::from_millis(200);
/// Cove keeps no metric history; the live sample answers a `start..end` window that contains now,
/// give or take E2B's own sampling interval.
const WINDOW_SLACK_SECS: i64 = 5;
/// Most sandboxes one batch metrics call may name.
const MAX_BATCH: usize = 100;
/// Default and largest number of log entries returned.
const MAX_LOGS: usize = 1000;

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> E2bResult<T> {
    v.parse().map_err(|_| {
        E2bError::invalid(format!("{name} must be a non-negative integer (got {v:?})"))
    })
}

/// One live sample of a running sandbox.
async fn sample(st: &AppState, id: &str) -> E2bResult<E2bSandboxMetric> {
    let rec = alive(st, id).await?;
    let first = st.sandboxes.metrics(&rec.id).await?;
    let t0 = Instant::now();
    tokio::time::sleep(CPU_WINDOW).await;
    let second = st.sandboxes.metrics(&rec.id).await?;
    let window_ns = t0.elapsed().as_nanos() as f64 * f64::from(rec.cpu_count.max(1));
    let used_ns = second.cpu_usage_ns.saturating_sub(first.cpu_usage_ns) as f64;
    let pct = if window_ns > 0.0 {
        (used_ns / window_ns * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    let mem_total = if second.memory_limit_bytes == u64::MAX {
        rec.memory_mb * 1024 * 1024
    } else {
        second.memory_limit_bytes
    };
    let now = Utc::now();
    Ok(E2bSandboxMetric {
        timestamp: now,
        timestamp_unix: now.timestamp(),
        cpu_count: rec.cpu_count,
        cpu_used_pct: (pct * 100.0).round() / 100.0,
        mem_used: second.memory_bytes,
        mem_total,
        mem_cache: 0,
        disk_used: second.disk_used_bytes,
        disk_total: second.disk_total_bytes,
    })
}

/// `GET /sandboxes/{id}/metrics?start=&end=` (Unix seconds): the current sample, if the window
/// contains now.
pub(crate) async fn metrics(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bQuery(pairs): E2bQuery,
) -> E2bResult<Json<Vec<E2bSandboxMetric>>> {
    let (mut start, mut end) = (None::<i64>, None::<i64>);
    for (k, v) in pairs {
        match k.as_str() {
            "start" => start = Some(parse_num("start", &v)?),
            "end" => end = Some(parse_num("end", &v)?),
            _ => {
                return Err(E2bError::invalid(format!(
                    "unknown query parameter {k:?} (expected start, end)"
                )))
            }
        }
    }
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(E2bError::invalid("start must not be after end"));
        }
    }
    let m = sample(&st, &id).await?;
    let ts = m.timestamp_unix;
    let inside = start.is_none_or(|s| s <= ts + WINDOW_SLACK_SECS)
        && end.is_none_or(|e| e >= ts - WINDOW_SLACK_SECS);
    Ok(Json(if inside { vec![m] } else { Vec::new() }))
}

/// `GET /sandboxes/metrics?sandbox_ids=a,b`: the current sample of each named running sandbox;
/// unknown or dead ones are left out.
pub(crate) async fn metrics_batch(
    State(st): State<AppState>,
    E2bQuery(pairs): E2bQuery,
) -> E2bResult<Json<E2bSandboxesWithMetrics>> {
    let mut ids: Vec<String> = Vec::new();
    for (k, v) in pairs {
        if k != "sandbox_ids" {
            return Err(E2bError::invalid(format!(
                "unknown query parameter {k:?} (expected sandbox_ids)"
            )));
        }
        for id in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_string());
            }
        }
    }
    if ids.is_empty() {
        return Err(E2bError::invalid("sandbox_ids is required"));
    }
    if ids.len() > MAX_BATCH {
        return Err(E2bError::invalid(format!(
            "at most {MAX_BATCH} sandbox_ids per call"
        )));
    }
    let samples =
        futures_util::future::join_all(ids.iter().map(|id| sample(&st, id.as_str()))).await;
    let mut sandboxes = BTreeMap::new();
    for (id, s) in ids.into_iter().zip(samples) {
        match s {
            Ok(m) => {
                sandboxes.insert(id, m);
            }
            Err(e) => tracing::debug!(sandbox_id = %id, error = ?e, "no metrics"),
        }
    }
    Ok(Json(E2bSandboxesWithMetrics { sandboxes }))
}

/// Severity order of E2B's log levels.
fn level_rank(level: &str) -> Option<u8> {
    match level {
        "debug" => Some(0),
        "info" => Some(1),
        "warn" => Some(2),
        "error" => Some(3),
        _ => None,
    }
}

fn entry(e: &EventRecord) -> E2bSandboxLogEntry {
    let level = if e.kind == "error" { "error" } else { "info" };
    E2bSandboxLogEntry {
        timestamp: e.at,
        message: e.message.clone(),
        level: level.to_string(),
        fields: BTreeMap::from([("kind".to_string(), e.kind.clone())]),
    }
}

fn millis(name: &str, v: &str) -> E2bResult<DateTime<Utc>> {
    let ms: i64 = parse_num(name, v)?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| E2bError::invalid(format!("{name} is out of range")))
}

fn limit(v: &str) -> E2bResult<usize> {
    let n: usize = parse_num("limit", v)?;
    if n > MAX_LOGS {
        return Err(E2bError::invalid(format!(
            "limit must be at most {MAX_LOGS} (got {n})"
        )));
    }
    Ok(n)
}

/// `GET /sandboxes/{id}/logs?start=<ms>&limit=`: oldest first. Logs outlive the sandbox.
pub(crate) async fn logs_v1(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bQuery(pairs): E2bQuery,
) -> E2bResult<Json<E2bSandboxLogs>> {
    let (mut start, mut max) = (None, MAX_LOGS);
    for (k, v) in pairs {
        match k.as_str() {
            "start" => start = Some(millis("start", &v)?),
            "limit" => max = limit(&v)?,
            _ => {
                return Err(E2bError::invalid(format!(
                    "unknown query parameter {k:?} (expected start, limit)"
                )))
            }
        }
    }
    let events = st.sandboxes.logs(&id).await?;
    let picked: Vec<&EventRecord> = events
        .iter()
        .filter(|e| start.is_none_or(|s| e.at >= s))
        .take(max)
        .collect();
    Ok(Json(E2bSandboxLogs {
        logs: picked
            .iter()
            .map(|e| E2bSandboxLog {
                timestamp: e.at,
                line: format!("[{}] {}", e.kind, e.message),
            })
            .collect(),
        log_entries: picked.iter().map(|e| entry(e)).collect(),
    }))
}

/// `GET /v2/sandboxes/{id}/logs?cursor=<ms>&limit=&direction=&level=&search=`.
pub(crate) async fn logs_v2(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bQuery(pairs): E2bQuery,
) -> E2bResult<Json<E2bSandboxLogsV2>> {
    let (mut cursor, mut max, mut backward, mut min_level, mut search) =
        (None, MAX_LOGS, false, 0u8, None::<String>);
    for (k, v) in pairs {
        match k.as_str() {
            "cursor" => cursor = Some(millis("cursor", &v)?),
            "limit" => max = limit(&v)?,
            "direction" => {
                backward = match v.as_str() {
                    "forward" => false,
                    "backward" => true,
                    _ => {
                        return Err(E2bError::invalid(format!(
                            "direction must be forward or backward (got {v:?})"
                        )))
                    }
                }
            }
            "level" => {
                min_level = level_rank(&v).ok_or_else(|| {
                    E2bError::invalid(format!(
                        "level must be debug, info, warn or error (got {v:?})"
                    ))
                })?
            }
            "search" => search = Some(v).filter(|s| !s.is_empty()),
            _ => {
                return Err(E2bError::invalid(format!(
                "unknown query parameter {k:?} (expected cursor, limit, direction, level, search)"
            )))
            }
        }
    }
    let events = st.sandboxes.logs(&id).await?;
    let keep = |e: &&EventRecord| {
        let entry_level = if e.kind == "error" { 3 } else { 1 };
        entry_level >= min_level
            && search
                .as_deref()
                .is_none_or(|s| e.message.contains(s) || e.kind.contains(s))
    };
    let logs: Vec<E2bSandboxLogEntry> = if backward {
        events
            .iter()
            .rev()
            .filter(|e| cursor.is_none_or(|c| e.at <= c))
            .filter(keep)
            .take(max)
            .map(entry)
            .collect()
    } else {
        events
            .iter()
            .filter(|e| cursor.is_none_or(|c| e.at >= c))
            .filter(keep)
            .take(max)
            .map(entry)
            .collect()
    };
    Ok(Json(E2bSandboxLogsV2 { logs }))
}
