//! The measurements. Every suite either yields its figure or a reason, which lands in `skipped`;
//! one failing suite never stops the others (or the cleanup).

use super::baselines::Baseline;
use super::host;
use super::report::{breakdown, Results};
use super::server::BenchServer;
use super::stats::{median, round3, summarize, Value};
use super::Plan;
use anyhow::{bail, Context};
use cove_api::{CreateSandboxRequest, ExecRequest};
use cove_client::Client;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::sync::Barrier;
use std::time::{Duration, Instant};

fn create_req() -> CreateSandboxRequest {
    CreateSandboxRequest {
        template_id: Some("base".into()),
        // A backstop: should the bench die uncleanly, its server is gone anyway, but a rerun of
        // it against the same data would reap them.
        timeout_seconds: Some(3600),
        metadata: Some(BTreeMap::from([(
            "cove-bench".to_string(),
            "1".to_string(),
        )])),
        ..Default::default()
    }
}

/// `true` run directly (no shell), so the figure is Cove's overhead rather than bash's startup.
fn exec_true(c: &Client, id: &str) -> anyhow::Result<()> {
    let r = c.exec(
        id,
        &ExecRequest {
            cmd: Some("true".into()),
            ..Default::default()
        },
    )?;
    if r.exit_code != 0 {
        bail!("`true` exited with {}", r.exit_code);
    }
    Ok(())
}

fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Duration)> {
    let t = Instant::now();
    let v = f()?;
    Ok((v, t.elapsed()))
}

fn summary_json(samples: &[Duration]) -> anyhow::Result<Json> {
    Ok(serde_json::to_value(
        summarize(samples).context("no samples")?,
    )?)
}

/// Runs everything and cleans up; the server is gone when this returns.
pub fn run_all(plan: Plan) -> anyhow::Result<Results> {
    let mut r = Results::new(plan);
    eprintln!("starting a private cove server ...");
    let srv = BenchServer::start()?;
    eprintln!("server at {} (data in {})", srv.url, srv.tmp.display());

    baselines(&srv, plan, &mut r);
    let mut deletes = Vec::new();
    let cold_ids = cold(&srv, plan, &mut r, &mut deletes);
    pool(&srv, plan, &mut r);
    exec(&srv, plan, &mut r);
    concurrent(&srv, plan, &mut r);
    files(&srv, plan, &mut r);
    density(&srv, plan, &mut r, &mut deletes);
    match summary_json(&deletes) {
        Ok(v) => {
            r.metrics.insert("delete", v);
        }
        Err(e) => {
            r.skipped.insert("delete".into(), e.to_string());
        }
    }
    r.details.insert(
        "create_breakdown",
        breakdown(&srv, &cold_ids, &r.cold_split),
    );

    eprintln!("cleaning up ...");
    let notes = srv.cleanup.run();
    let parent = r.cgroup_parent.clone().unwrap_or_default();
    r.details.insert(
        "final_cleanup",
        json!({
            "forced_steps": notes,
            "temp_dir_left": srv.tmp.exists(),
            "mounts_left": host::mounts_under(&srv.tmp).len(),
            "loops_left": host::loops_under(&srv.tmp).len(),
            "cgroup_dirs_left": if parent.is_empty() { 0 } else { host::cgroup_dirs(&parent).len() },
        }),
    );
    Ok(r)
}

fn baselines(srv: &BenchServer, plan: Plan, r: &mut Results) {
    eprintln!("baselines ...");
    let b = match Baseline::prepare(&srv.tmp) {
        Ok(b) => b,
        Err(e) => {
            for k in [
                "fork_exec_true",
                "unshare_chroot_true",
                "runc_true",
                "crun_true",
            ] {
                r.skipped.insert(k.into(), format!("{e:#}"));
            }
            return;
        }
    };
    let runs: [(&'static str, anyhow::Result<Vec<Duration>>); 4] = [
        ("fork_exec_true", b.fork_exec(plan.fork)),
        ("unshare_chroot_true", b.unshare_chroot(plan.unshare)),
        ("runc_true", oci(&b, "runc", plan.oci)),
        ("crun_true", oci(&b, "crun", plan.oci)),
    ];
    for (k, res) in runs {
        match res.and_then(|v| summary_json(&v)) {
            Ok(v) => {
                r.baselines.insert(k, v);
            }
            Err(e) => {
                r.skipped.insert(k.into(), format!("{e:#}"));
            }
        }
    }
}

fn oci(b: &Baseline, runtime: &str, n: usize) -> anyhow::Result<Vec<Duration>> {
    if host::tool_version(runtime).is_none() {
        bail!("{runtime} is not installed");
    }
    b.oci(runtime, n)
}

/// Sequential create → first exec → delete; also learns the server's cgroup parent.
fn cold(
    srv: &BenchServer,
    plan: Plan,
    r: &mut Results,
    deletes: &mut Vec<Duration>,
) -> Vec<String> {
    eprintln!("cold create → first exec (N={}) ...", plan.cold);
    let c = &srv.client;
    let mut ids = Vec::new();
    let res = (|| -> anyhow::Result<()> {
        // Untimed: the first create of a server formats the disk-image template.
        let (sb, first) = timed(|| Ok(c.create_sandbox(&create_req())?))?;
        r.details.insert(
            "first_create_of_server_ms",
            json!(round3(first.as_secs_f64() * 1e3)),
        );
        if let Some(parent) = srv
            .init_pid(&sb.id)
            .and_then(host::memory_cgroup_of)
            .and_then(|p| p.rsplit_once('/').map(|(a, _)| a.to_string()))
        {
            srv.cleanup.set_cgroup_parent(parent.clone());
            r.cgroup_parent = Some(parent);
        }
        exec_true(c, &sb.id)?;
        c.delete_sandbox(&sb.id)?;
        let (mut total, mut create, mut first_exec) = (vec![], vec![], vec![]);
        for _ in 0..plan.cold {
            let t = Instant::now();
            let sb = c.create_sandbox(&create_req())?;
            let tc = t.elapsed();
            exec_true(c, &sb.id)?;
            let te = t.elapsed();
            ids.push(sb.id.clone());
            total.push(te);
            create.push(tc);
            first_exec.push(te - tc);
            deletes.push(timed(|| Ok(c.delete_sandbox(&sb.id)?))?.1);
        }
        r.metrics.insert("cold_create_exec", summary_json(&total)?);
        r.details.insert("cold_create_only", summary_json(&create)?);
        r.details
            .insert("cold_first_exec_only", summary_json(&first_exec)?);
        r.cold_split = (
            summarize(&create).map(|s| s.p50),
            summarize(&first_exec).map(|s| s.p50),
        );
        Ok(())
    })();
    if let Err(e) = res {
        r.skipped
            .insert("cold_create_exec".into(), format!("{e:#}"));
    }
    ids
}

/// The template the pool suite pools (the one every other suite creates from).
const POOL_TEMPLATE: &str = "base";
/// How long a pool may take to fill before the suite gives up.
const POOL_FILL_TIMEOUT: Duration = Duration::from_secs(120);

/// Polls the pool until it holds `min_idle` idle sandboxes and boots nothing; returns its status.
fn wait_pool_full(c: &Client, min_idle: u32) -> anyhow::Result<cove_api::Pool> {
    let deadline = Instant::now() + POOL_FILL_TIMEOUT;
    loop {
        let p = c.pool(POOL_TEMPLATE)?;
        if p.idle >= min_idle && p.booting == 0 {
            return Ok(p);
        }
        if Instant::now() > deadline {
            bail!(
                "pool did not fill within {}s (idle {}, booting {})",
                POOL_FILL_TIMEOUT.as_secs(),
                p.idle,
                p.booting
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Create → first exec → delete against a full warm pool. The pool refills between samples, so
/// each create should be a claim; the pool's `hits` counter tells whether it was, and only hits
/// make up the metric (misses are counted and reported beside it).
fn pool(srv: &BenchServer, plan: Plan, r: &mut Results) {
    eprintln!(
        "warm-pool create → first exec (N={}, minIdle {}) ...",
        plan.pool, plan.pool_idle
    );
    let c = &srv.client;
    let res = (|| -> anyhow::Result<Json> {
        c.set_pool(POOL_TEMPLATE, plan.pool_idle, None)?;
        let out = (|| -> anyhow::Result<Json> {
            let t = Instant::now();
            wait_pool_full(c, plan.pool_idle)?;
            let fill = t.elapsed();
            let (mut hits, mut misses, mut refills) = (vec![], vec![], vec![]);
            for _ in 0..plan.pool {
                let (before, refill) = timed(|| wait_pool_full(c, plan.pool_idle))?;
                refills.push(refill);
                let t = Instant::now();
                let sb = c.create_sandbox(&create_req())?;
                let ran = exec_true(c, &sb.id);
                let d = t.elapsed();
                let deleted = c.delete_sandbox(&sb.id);
                ran?;
                deleted?;
                let after = c.pool(POOL_TEMPLATE)?;
                if after.hits > before.hits {
                    hits.push(d);
                } else {
                    misses.push(d);
                }
            }
            let mut v = summary_json(&hits).context("no create was served by the pool")?;
            v["hits"] = json!(hits.len());
            v["misses"] = json!(misses.len());
            v["min_idle"] = json!(plan.pool_idle);
            if let Some(s) = summarize(&misses) {
                v["misses_p50_ms"] = json!(s.p50);
            }
            r.details.insert(
                "pool_fill_ms",
                json!({
                    "initial": round3(fill.as_secs_f64() * 1e3),
                    "refill_wait": summary_json(&refills)?,
                }),
            );
            Ok(v)
        })();
        // Removing the pool destroys its idle sandboxes; a failure here is left to the final
        // sweep, which removes pools too.
        let removed = c.delete_pool(POOL_TEMPLATE);
        let v = out?;
        removed?;
        Ok(v)
    })();
    match res {
        Ok(v) => {
            r.metrics.insert("pool_create_exec", v);
        }
        Err(e) => {
            r.skipped
                .insert("pool_create_exec".into(), format!("{e:#}"));
        }
    }
}

fn exec(srv: &BenchServer, plan: Plan, r: &mut Results) {
    eprintln!(
        "exec round trip (N={}) and throughput ({} clients) ...",
        plan.exec, plan.clients
    );
    let c = &srv.client;
    let res = (|| -> anyhow::Result<()> {
        let sb = c.create_sandbox(&create_req())?;
        let out = (|| -> anyhow::Result<()> {
            exec_true(c, &sb.id)?;
            let mut rtt = Vec::with_capacity(plan.exec);
            for _ in 0..plan.exec {
                rtt.push(timed(|| exec_true(c, &sb.id))?.1);
            }
            r.metrics.insert("exec_rtt", summary_json(&rtt)?);
            let start = Barrier::new(plan.clients);
            let t0 = Instant::now();
            let per: Vec<anyhow::Result<Vec<Duration>>> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..plan.clients)
                    .map(|_| {
                        let (c, id, start) = (c.clone(), sb.id.clone(), &start);
                        s.spawn(move || {
                            start.wait();
                            (0..plan.per_client)
                                .map(|_| timed(|| exec_true(&c, &id)).map(|x| x.1))
                                .collect::<anyhow::Result<Vec<_>>>()
                        })
                    })
                    .collect();
                hs.into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("client panicked")))
                    })
                    .collect()
            });
            let wall = t0.elapsed();
            let mut all = Vec::new();
            for p in per {
                all.extend(p?);
            }
            let ops = all.len() as f64 / wall.as_secs_f64();
            r.metrics.insert(
                "exec_throughput",
                serde_json::to_value(Value::new(ops, "ops/s"))?,
            );
            r.details
                .insert("exec_latency_under_load", summary_json(&all)?);
            Ok(())
        })();
        let _ = c.delete_sandbox(&sb.id);
        out
    })();
    if let Err(e) = res {
        let msg = format!("{e:#}");
        r.skipped.entry("exec_rtt".into()).or_insert(msg.clone());
        r.skipped.insert("exec_throughput".into(), msg);
    }
}

fn concurrent(srv: &BenchServer, plan: Plan, r: &mut Results) {
    let n = plan.concurrent;
    eprintln!("{n} concurrent creates ...");
    let c = &srv.client;
    let start = Barrier::new(n);
    let t0 = Instant::now();
    let outcomes: Vec<anyhow::Result<(String, Duration)>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (c, start) = (c.clone(), &start);
                s.spawn(move || {
                    start.wait();
                    timed(|| Ok(c.create_sandbox(&create_req())?.id))
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("client panicked")))
            })
            .collect()
    });
    let total = t0.elapsed();
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    for o in outcomes {
        match o {
            Ok((id, d)) => {
                lat.push(d);
                let _ = c.delete_sandbox(&id);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !errors.is_empty() {
        r.skipped.insert(
            "concurrent_create_50".into(),
            format!("{} of {n} creates failed: {}", errors.len(), errors[0]),
        );
        return;
    }
    match summary_json(&lat) {
        Ok(mut v) => {
            v["total_ms"] = json!(round3(total.as_secs_f64() * 1e3));
            v["concurrency"] = json!(n);
            r.metrics.insert("concurrent_create_50", v);
        }
        Err(e) => {
            r.skipped
                .insert("concurrent_create_50".into(), e.to_string());
        }
    }
}

/// Bytes that neither compress nor dedupe, cheaply (xorshift).
fn payload(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

struct Count(u64);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files(srv: &BenchServer, plan: Plan, r: &mut Results) {
    let len = plan.file_mib * 1024 * 1024;
    eprintln!("file write/read of {} MiB ...", plan.file_mib);
    let c = &srv.client;
    let res = (|| -> anyhow::Result<(f64, f64)> {
        let sb = c.create_sandbox(&create_req())?;
        let out = (|| -> anyhow::Result<(f64, f64)> {
            let data = payload(len);
            let path = "/home/user/bench.bin";
            let (_, w) = timed(|| Ok(c.write_file(&sb.id, path, data)?))?;
            let mut sink = Count(0);
            let (_, rd) = timed(|| Ok(c.read_file_to(&sb.id, path, &mut sink)?))?;
            if sink.0 != len as u64 {
                bail!("read back {} bytes, wrote {len}", sink.0);
            }
            let mb = len as f64 / 1e6;
            Ok((mb / w.as_secs_f64(), mb / rd.as_secs_f64()))
        })();
        let _ = c.delete_sandbox(&sb.id);
        out
    })();
    match res {
        Ok((w, rd)) => {
            r.metrics.insert(
                "file_write",
                json!({"value": round3(w), "unit": "MB/s", "bytes": len}),
            );
            r.metrics.insert(
                "file_read",
                json!({"value": round3(rd), "unit": "MB/s", "bytes": len}),
            );
        }
        Err(e) => {
            r.skipped.insert("file_write".into(), format!("{e:#}"));
            r.skipped.insert("file_read".into(), format!("{e:#}"));
        }
    }
}

/// Leftovers the runtime could have: counted before the density run and after its deletes.
fn leftovers(srv: &BenchServer, r: &Results, netns: &[u64]) -> Json {
    let parent = r.cgroup_parent.clone().unwrap_or_default();
    let dirs = std::fs::read_dir(srv.sandboxes_dir()).map_or(0, |d| d.count());
    json!({
        "mounts": host::mounts_under(&srv.sandboxes_dir()).len(),
        "loop_devices": host::loops_under(&srv.data_dir).len(),
        "cgroups": if parent.is_empty() { 0 } else { host::cgroup_children(&parent) },
        "netns_of_deleted_sandboxes": host::netns_alive(netns),
        "runc_containers": srv.runc_containers(),
        "sandbox_dirs": dirs,
    })
}

fn density(srv: &BenchServer, plan: Plan, r: &mut Results, deletes: &mut Vec<Duration>) {
    let k = plan.density;
    eprintln!("density: {k} idle sandboxes ...");
    let c = &srv.client;
    let before = leftovers(srv, r, &[]);
    let mem0 = host::meminfo();
    let rss0 = host::rss_kib(srv.pid).unwrap_or(0);
    let mut ids = Vec::new();
    let mut lat = Vec::new();
    let mut failure = None;
    for _ in 0..k {
        match timed(|| Ok(c.create_sandbox(&create_req())?)) {
            Ok((sb, d)) => {
                ids.push(sb.id);
                lat.push(d);
            }
            Err(e) => {
                failure = Some(format!("{e:#}"));
                break;
            }
        }
    }
    // Let the agents finish starting up and the page cache settle before reading memory.
    std::thread::sleep(Duration::from_secs(2));
    let mut netns = Vec::new();
    let (mut pss, mut rss, mut cg, mut cg_kernel) = (0u64, 0u64, 0u64, 0u64);
    let mut seen = 0u64;
    for id in &ids {
        let Some(pid) = srv.init_pid(id) else {
            continue;
        };
        if let Some(ns) = host::netns_of(pid) {
            netns.push(ns);
        }
        if let Some((p, s)) = host::pss_rss_kib(pid) {
            pss += p;
            rss += s;
        }
        if let Some((u, kern)) = host::memory_cgroup_of(pid).and_then(|p| host::cgroup_memory(&p)) {
            cg += u;
            cg_kernel += kern;
        }
        seen += 1;
    }
    let mem1 = host::meminfo();
    let rss1 = host::rss_kib(srv.pid).unwrap_or(0);
    let delta = |key: &str| -> i64 {
        mem1.get(key).copied().unwrap_or(0) as i64 - mem0.get(key).copied().unwrap_or(0) as i64
    };

    if let Some(f) = failure {
        r.skipped.insert(
            "density_mem_per_sandbox".into(),
            format!("create {} of {k} failed: {f}", ids.len() + 1),
        );
    } else if seen == 0 {
        r.skipped.insert(
            "density_mem_per_sandbox".into(),
            "no sandbox init found".into(),
        );
    } else {
        let n = seen as f64;
        let mib = |kib: f64| kib / 1024.0;
        let kernel_kib = (delta("Slab") + delta("PageTables") + delta("KernelStack")) as f64;
        let unaccounted_kernel = (kernel_kib - cg_kernel as f64 / 1024.0).max(0.0) / n;
        let cgroup_mean = cg as f64 / 1024.0 / n;
        let server_growth = (rss1 as f64 - rss0 as f64).max(0.0) / n;
        let per = mib(cgroup_mean + server_growth + unaccounted_kernel);
        let used = |m: &BTreeMap<String, u64>| {
            m.get("MemTotal").copied().unwrap_or(0) as f64
                - m.get("MemAvailable").copied().unwrap_or(0) as f64
        };
        r.metrics.insert(
            "density_mem_per_sandbox",
            json!({"value": round3(per), "unit": "MiB", "sandboxes": seen}),
        );
        r.details.insert(
            "density_memory_mib_per_sandbox",
            json!({
                "agent_pss": round3(mib(pss as f64 / n)),
                "agent_rss": round3(mib(rss as f64 / n)),
                "cgroup_charged": round3(mib(cgroup_mean)),
                "cgroup_charged_kernel": round3(mib(cg_kernel as f64 / 1024.0 / n)),
                "server_rss_growth": round3(mib(server_growth)),
                "kernel_outside_cgroups": round3(mib(unaccounted_kernel)),
                "page_cache_growth_reclaimable": round3(mib(delta("Cached") as f64 / n)),
                "host_used_growth_noisy": round3(mib((used(&mem1) - used(&mem0)) / n)),
            }),
        );
    }
    if let Some(s) = summarize(&lat) {
        let dec = (lat.len() / 10).max(1);
        let ms =
            |v: &[Duration]| median(&v.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>());
        let first = ms(&lat[..dec]);
        let last = ms(&lat[lat.len() - dec..]);
        r.details.insert(
            "density_create_drift",
            json!({
                "all": s,
                "first_decile_p50_ms": first.map(round3),
                "last_decile_p50_ms": last.map(round3),
                "last_over_first": first.zip(last).map(|(a, b)| round3(b / a)),
            }),
        );
    }

    eprintln!("deleting {} sandboxes ...", ids.len());
    let mut delete_failures = 0;
    for id in &ids {
        match timed(|| Ok(c.delete_sandbox(id)?)) {
            Ok((_, d)) => deletes.push(d),
            Err(_) => delete_failures += 1,
        }
    }
    let after = leftovers(srv, r, &netns);
    r.details.insert(
        "cleanup_after_delete",
        json!({"before": before, "after": after, "delete_failures": delete_failures}),
    );
}
