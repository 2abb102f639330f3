//! Warm pools: fill, claim (request settings applied, nothing leaks), refill, misses, removal.

use crate::harness::{assert_error, can_run, cove_rand, eventually, Server};
use serde_json::{json, Value};
use std::time::Duration;

fn pool(s: &Server) -> Value {
    s.get("/v1/pools/base").json().unwrap_or_default()
}

fn pooled_ids(s: &Server) -> Vec<String> {
    let v: Value = s.get("/v1/pools/base/sandboxes").json().unwrap_or_default();
    v["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i["id"].as_str().map(String::from))
        .collect()
}

#[test]
fn warm_pool_fill_claim_refill() {
    if !can_run() {
        return;
    }
    // Its own server: a pool changes what every create of `base` does.
    let dir = std::env::temp_dir().join(format!("cove-it-pool-{}", cove_rand()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let s = Server::start_in(&dir, port);

    assert_error(
        s.req(reqwest::Method::PUT, "/v1/pools/base")
            .json(&json!({"minIdle": 1000}))
            .send()
            .expect("put"),
        400,
        "invalid_argument",
    );
    assert_error(
        s.req(reqwest::Method::PUT, "/v1/pools/nope")
            .json(&json!({"minIdle": 1}))
            .send()
            .expect("put"),
        404,
        "not_found",
    );
    assert_error(s.get("/v1/pools/base"), 404, "not_found");

    let r = s
        .req(reqwest::Method::PUT, "/v1/pools/base")
        .json(&json!({"minIdle": 2}))
        .send()
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let full = eventually(Duration::from_secs(60), || {
        (pool(&s)["idle"] == 2).then_some(())
    });
    assert!(full.is_some(), "pool did not fill: {}", pool(&s));
    let before = pooled_ids(&s);
    assert_eq!(before.len(), 2);
    // pooled sandboxes are not users' sandboxes
    let listed = s.get("/v1/sandboxes").text().unwrap_or_default();
    assert!(before.iter().all(|id| !listed.contains(id.as_str())));

    let sb = s.sandbox(json!({"envs": {"WHO": "claimer"}, "metadata": {"k": "v"}, "files": {"f.txt": "x"}, "timeoutSeconds": 120}));
    assert!(before.contains(&sb.id), "create did not use the pool");
    assert_eq!(sb.info["metadata"]["k"], "v");
    assert!(sb.info["endAt"].is_string());
    assert_eq!(sb.out("echo $WHO; cat f.txt"), "claimer\nx");
    // nothing but the agent and this exec's own processes runs in it
    let procs: usize = sb.out("ls -d /proc/[0-9]* | wc -l").parse().unwrap_or(99);
    assert!(procs <= 4, "{procs} processes in a fresh pooled sandbox");
    assert_eq!(
        sb.out("ls -A /home/user | grep -v '^\\.' | tr '\\n' ' '"),
        "f.txt"
    );
    let logs = s.get(&sb.path("/logs")).text().unwrap_or_default();
    assert!(logs.contains("warm pool"), "{logs}");

    let refilled = eventually(Duration::from_secs(60), || {
        let ids = pooled_ids(&s);
        (ids.len() == 2 && !ids.contains(&sb.id)).then_some(())
    });
    assert!(refilled.is_some(), "pool did not refill: {}", pool(&s));
    let p = pool(&s);
    assert_eq!(p["hits"], 1, "{p}");

    // other limits than the template's defaults cannot come from the pool
    let other = s.sandbox(json!({"memoryMB": 256}));
    assert!(!pooled_ids(&s).contains(&other.id));
    assert!(pool(&s)["misses"].as_u64().unwrap_or(0) >= 1);
    let metrics = s.get("/metrics").text().unwrap_or_default();
    assert!(metrics.contains("cove_pool_hits_total 1"), "{metrics}");

    // removing the pool removes its idle sandboxes
    let idle = pooled_ids(&s);
    assert_eq!(s.delete("/v1/pools/base").status().as_u16(), 204);
    assert_error(s.get("/v1/pools/base"), 404, "not_found");
    for id in idle {
        assert!(
            !dir.join(format!("runtime/sandboxes/{id}")).exists(),
            "{id} left behind"
        );
    }
    drop(sb);
    drop(other);
}
