//! Latency summaries: nearest-rank percentiles over the raw samples (no interpolation, so every
//! reported figure is a latency that was actually observed).

use serde::Serialize;
use std::time::Duration;

/// p50/p90/p99/max of one latency metric, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub n: usize,
    pub unit: &'static str,
}

/// A single figure (throughput, memory).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Value {
    pub value: f64,
    pub unit: &'static str,
}

impl Value {
    pub fn new(value: f64, unit: &'static str) -> Self {
        Self {
            value: round3(value),
            unit,
        }
    }
}

/// Keeps the JSON readable; sub-microsecond digits are noise anyway.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nearest-rank percentile of sorted samples.
fn rank(sorted: &[Duration], p: f64) -> Duration {
    let n = sorted.len();
    let idx = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[idx.clamp(1, n) - 1]
}

/// Summarises samples; `None` when there are none.
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_unstable();
    Some(Summary {
        p50: round3(ms(rank(&s, 50.0))),
        p90: round3(ms(rank(&s, 90.0))),
        p99: round3(ms(rank(&s, 99.0))),
        max: round3(ms(s[s.len() - 1])),
        n: s.len(),
        unit: "ms",
    })
}

/// Median in ms of plain numbers (used for log-derived phase timings).
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    Some(v[(v.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = summarize(&v).unwrap_or_else(|| panic!("empty"));
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50.0, 90.0, 99.0, 100.0));
        let one = summarize(&[Duration::from_millis(7)]).unwrap_or_else(|| panic!("empty"));
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert!(summarize(&[]).is_none());
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
