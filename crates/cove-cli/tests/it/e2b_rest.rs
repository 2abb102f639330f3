//! The E2B-compatible REST API under `/e2b/v1`, driven over HTTP with the shapes the official SDKs
//! send (`X-API-Key`, `templateID`, `envVars`, `metadata=k%3Dv`, `X-Next-Token`), checking the
//! statuses and required response keys the SDKs are strict about.

use crate::harness::{can_run, cove_rand, Server};
use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::{json, Value};

/// A client holding an `e2b_` key issued through `/v1/api-keys`.
struct E2b<'a> {
    s: &'a Server,
    key: String,
}

impl<'a> E2b<'a> {
    fn new(s: &'a Server) -> Self {
        let r = s.post("/v1/api-keys", json!({"name": "e2b-it", "format": "e2b"}));
        assert_eq!(r.status().as_u16(), 201);
        let v: Value = r.json().expect("json");
        let key = v["secret"].as_str().expect("secret").to_string();
        assert!(key.starts_with("e2b_"), "{key}");
        E2b { s, key }
    }

    fn req(&self, m: Method, path: &str) -> reqwest::blocking::RequestBuilder {
        self.s
            .http
            .request(m, format!("{}/e2b/v1{}", self.s.url, path))
            .header("X-API-KEY", &self.key)
    }

    fn send(&self, m: Method, path: &str, body: Option<Value>) -> Response {
        let mut r = self.req(m, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().expect("send")
    }

    /// Creates through `POST /v2/sandboxes`, asserting 201; returns the body.
    fn create(&self, body: Value) -> Value {
        let r = self.send(Method::POST, "/v2/sandboxes", Some(body));
        let status = r.status().as_u16();
        let v: Value = r.json().expect("json");
        assert_eq!(status, 201, "create: {v}");
        v
    }

    fn kill(&self, id: &str) {
        let _ = self.send(Method::DELETE, &format!("/sandboxes/{id}"), None);
    }
}

/// Asserts an E2B error: status and body `code` agree, and `message` says something.
fn assert_e2b_error(r: Response, status: u16) -> String {
    let got = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({got}): {text}"));
    assert_eq!(got, status, "{text}");
    assert_eq!(v["code"], status, "{text}");
    let msg = v["message"].as_str().unwrap_or_default().to_string();
    assert!(!msg.is_empty(), "{text}");
    msg
}

/// Seconds since the epoch of a UTC RFC 3339 timestamp as the server writes them
/// (`YYYY-MM-DDTHH:MM:SS[.frac]Z`); panics on anything else.
fn ts(v: &Value) -> f64 {
    let s = v.as_str().unwrap_or_default();
    let bad = || -> ! { panic!("not a UTC RFC 3339 timestamp: {v}") };
    let s = s.strip_suffix('Z').unwrap_or_else(|| bad());
    let (date, time) = s.split_once('T').unwrap_or_else(|| bad());
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().unwrap_or_else(|_| bad()))
        .collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().unwrap_or_else(|_| bad()))
        .collect();
    if d.len() != 3 || t.len() != 3 {
        bad();
    }
    // Days from civil date (proleptic Gregorian), shifted so March starts the year.
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let frac: f64 = format!("0.{frac}").parse().unwrap_or_else(|_| bad());
    (days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) as f64 + frac
}

fn assert_sandbox_keys(v: &Value) {
    for k in [
        "templateID",
        "sandboxID",
        "clientID",
        "envdVersion",
        "envdAccessToken",
        "domain",
        "alias",
        "startedAt",
        "endAt",
        "cpuCount",
        "memoryMB",
        "diskSizeMB",
        "state",
    ] {
        assert!(!v[k].is_null(), "missing {k}: {v}");
    }
    assert_eq!(v["envdVersion"], "0.6.13");
    assert_eq!(v["state"], "running");
    assert_eq!(v["templateID"], "base");
    assert_eq!(v["alias"], "base");
    assert!(v["sandboxID"].as_str().is_some_and(|s| s.len() == 20));
    assert!(v["envdAccessToken"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["cpuCount"].as_u64().is_some_and(|n| n > 0));
    assert!(v["memoryMB"].as_u64().is_some_and(|n| n > 0));
    assert!(v["diskSizeMB"].as_u64().is_some_and(|n| n > 0));
    assert!(ts(&v["endAt"]) > ts(&v["startedAt"]));
}

#[test]
fn e2b_lifecycle() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let e = E2b::new(s);
    // What py 2.63 sends for `Sandbox.create(metadata=…, envs=…)`.
    let v =
        e.create(json!({"templateID": "base", "metadata": {"user": "abc"}, "envVars": {"A": "1"}}));
    assert_sandbox_keys(&v);
    assert_eq!(v["metadata"]["user"], "abc");
    let id = v["sandboxID"].as_str().unwrap_or_default().to_string();
    let p = |rest: &str| format!("/sandboxes/{id}{rest}");

    // envVars reach every process (checked through the native API on the same sandbox).
    let out: Value = s
        .post(
            &format!("/v1/sandboxes/{id}/exec"),
            json!({"command": "echo $A"}),
        )
        .json()
        .expect("json");
    assert_eq!(out["stdout"], "1\n", "{out}");

    let got = e.send(Method::GET, &p(""), None);
    assert_eq!(got.status().as_u16(), 200);
    let got: Value = got.json().expect("json");
    assert_sandbox_keys(&got);
    assert_eq!(got["envdAccessToken"], v["envdAccessToken"]);
    assert_eq!(got["allowInternetAccess"], false);
    assert_eq!(got["lifecycle"]["onTimeout"], "kill");

    // timeout replaces the deadline: 1 hour pushes it later, then 120 s pulls it back in.
    let end0 = ts(&got["endAt"]);
    let r = e.send(Method::POST, &p("/timeout"), Some(json!({"timeout": 3600})));
    assert_eq!(r.status().as_u16(), 204);
    let end1 = ts(&e
        .send(Method::GET, &p(""), None)
        .json::<Value>()
        .expect("json")["endAt"]);
    assert!(end1 > end0, "{end1} vs {end0}");
    assert_e2b_error(e.send(Method::POST, &p("/timeout"), Some(json!({}))), 400);
    assert_e2b_error(
        e.send(Method::POST, &p("/timeout"), Some(json!({"timeout": 0}))),
        400,
    );

    // connect only extends: a shorter timeout keeps the later deadline.
    let r = e.send(
        Method::POST,
        &format!("/v2/sandboxes/{id}/connect"),
        Some(json!({"timeout": 60})),
    );
    assert_eq!(r.status().as_u16(), 200);
    let c: Value = r.json().expect("json");
    assert_sandbox_keys(&c);
    assert_eq!(ts(&c["endAt"]), end1);
    let r = e.send(Method::POST, &format!("/v2/sandboxes/{id}/connect"), None);
    assert_eq!(r.status().as_u16(), 200, "empty connect body");
    let r = e.send(Method::POST, &p("/connect"), Some(json!({"timeout": 7200})));
    assert_eq!(r.status().as_u16(), 200);
    let c: Value = r.json().expect("json");
    assert!(ts(&c["endAt"]) > end1);
    assert_e2b_error(e.send(Method::POST, &p("/connect"), Some(json!({}))), 400);

    // refreshes never shorten either.
    let r = e.send(
        Method::POST,
        &p("/refreshes"),
        Some(json!({"duration": 10})),
    );
    assert_eq!(r.status().as_u16(), 204);
    let after: Value = e.send(Method::GET, &p(""), None).json().expect("json");
    assert_eq!(after["endAt"], c["endAt"]);

    // Legacy resume of a running sandbox is E2B's 409 "already running".
    assert_e2b_error(
        e.send(Method::POST, &p("/resume"), Some(json!({"timeout": 300}))),
        409,
    );

    // Pause is refused, never faked: the sandbox keeps running.
    let msg = assert_e2b_error(e.send(Method::POST, &p("/pause"), Some(json!({}))), 400);
    assert!(msg.contains("not supported"), "{msg}");
    let r = e.send(Method::POST, &p("/pause"), None);
    assert_e2b_error(r, 400);
    let still: Value = e.send(Method::GET, &p(""), None).json().expect("json");
    assert_eq!(still["state"], "running");

    // Metrics are live cgroup and disk numbers.
    let r = e.send(Method::GET, &p("/metrics"), None);
    assert_eq!(r.status().as_u16(), 200);
    let m: Value = r.json().expect("json");
    let m0 = &m[0];
    for k in [
        "timestamp",
        "timestampUnix",
        "cpuCount",
        "cpuUsedPct",
        "memUsed",
        "memTotal",
        "memCache",
        "diskUsed",
        "diskTotal",
    ] {
        assert!(!m0[k].is_null(), "missing {k}: {m}");
    }
    for k in ["cpuCount", "memUsed", "memTotal", "diskUsed", "diskTotal"] {
        assert!(m0[k].as_u64().is_some_and(|n| n > 0), "{k} not > 0: {m}");
    }
    assert!(m0["memUsed"].as_u64() <= m0["memTotal"].as_u64());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let r = e.send(
        Method::GET,
        &p(&format!("/metrics?start={}&end={}", now - 60, now + 60)),
        None,
    );
    assert_eq!(
        r.json::<Value>().expect("json").as_array().map(Vec::len),
        Some(1)
    );
    let r = e.send(Method::GET, &p("/metrics?start=1000&end=2000"), None);
    assert_eq!(
        r.json::<Value>().expect("json").as_array().map(Vec::len),
        Some(0)
    );
    let batch: Value = e
        .send(
            Method::GET,
            &format!("/sandboxes/metrics?sandbox_ids={id},aaaaaaaaaaaaaaaaaaaa"),
            None,
        )
        .json()
        .expect("json");
    assert!(
        batch["sandboxes"][&id]["memUsed"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{batch}"
    );
    assert!(batch["sandboxes"]["aaaaaaaaaaaaaaaaaaaa"].is_null());

    // Logs: the lifecycle events, in both shapes.
    let r = e.send(Method::GET, &p("/logs"), None);
    assert_eq!(r.status().as_u16(), 200);
    let l: Value = r.json().expect("json");
    assert!(l["logs"].as_array().is_some_and(|a| !a.is_empty()), "{l}");
    assert!(l["logEntries"][0]["fields"]["kind"] == "created", "{l}");
    assert!(l["logs"][0]["line"]
        .as_str()
        .is_some_and(|s| s.contains("created")));
    let r = e.send(
        Method::GET,
        &format!("/v2/sandboxes/{id}/logs?direction=backward&limit=1"),
        None,
    );
    let l2: Value = r.json().expect("json");
    assert_eq!(l2["logs"].as_array().map(Vec::len), Some(1), "{l2}");

    // Kill: 204, then 404 (the SDKs' kill() returns false), and the sandbox is gone.
    let r = e.send(Method::DELETE, &p(""), None);
    assert_eq!(r.status().as_u16(), 204);
    assert_e2b_error(e.send(Method::DELETE, &p(""), None), 404);
    assert_e2b_error(e.send(Method::GET, &p(""), None), 404);
    assert_e2b_error(
        e.send(Method::POST, &p("/connect"), Some(json!({"timeout": 10}))),
        404,
    );
    assert_e2b_error(e.send(Method::GET, &p("/metrics"), None), 404);
    // Logs outlive the sandbox.
    let r = e.send(Method::GET, &p("/logs"), None);
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn e2b_create_v1_shapes_and_template_spellings() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let e = E2b::new(s);
    // What v1-era SDKs (py 2.45) send by default, under template spellings E2B clients use.
    for template in ["base", "base-v1", "base:default"] {
        let r = e.send(
            Method::POST,
            "/sandboxes",
            Some(
                json!({"templateID": template, "timeout": 300, "secure": true,
                "allow_internet_access": true, "metadata": {}, "envVars": {}}),
            ),
        );
        let status = r.status().as_u16();
        let v: Value = r.json().expect("json");
        assert_eq!(status, 201, "{template}: {v}");
        assert_sandbox_keys(&v);
        e.kill(v["sandboxID"].as_str().unwrap_or_default());
    }
    // Without a timeout, v1 keeps E2B's 15 s default.
    let r = e.send(
        Method::POST,
        "/sandboxes",
        Some(json!({"templateID": "base"})),
    );
    let v: Value = r.json().expect("json");
    let secs = ts(&v["endAt"]) - ts(&v["startedAt"]);
    assert!((10.0..=20.0).contains(&secs), "{v}");
    e.kill(v["sandboxID"].as_str().unwrap_or_default());
    // `allow_internet_access: false` is what Cove does anyway.
    let v = e.create(json!({"templateID": "base", "allow_internet_access": false}));
    e.kill(v["sandboxID"].as_str().unwrap_or_default());

    let msg = assert_e2b_error(
        e.send(
            Method::POST,
            "/v2/sandboxes",
            Some(json!({"templateID": "nope-template"})),
        ),
        404,
    );
    assert!(msg.contains("nope-template"), "{msg}");
    assert_e2b_error(
        e.send(
            Method::POST,
            "/v2/sandboxes",
            Some(json!({"templateID": "base:v7"})),
        ),
        404,
    );
}

#[test]
fn e2b_list_filters_and_pagination() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let e = E2b::new(s);
    let suite = format!("list-{}", cove_rand());
    let mut ids = Vec::new();
    for i in 0..3 {
        let v = e.create(json!({"templateID": "base",
            "metadata": {"suite": suite, "i": i.to_string(), "with space": "a&b"}}));
        ids.push(v["sandboxID"].as_str().unwrap_or_default().to_string());
    }
    // The SDK percent-encodes keys and values, then urlencodes the `k=v&…` string.
    let meta = format!("suite={suite}&with%20space=a%26b");
    let page = |token: Option<&str>| {
        let mut q = vec![
            ("metadata", meta.clone()),
            ("state", "running,paused".to_string()),
            ("limit", "2".to_string()),
        ];
        if let Some(t) = token {
            q.push(("nextToken", t.to_string()));
        }
        let r = e
            .req(Method::GET, "/v2/sandboxes")
            .query(&q)
            .send()
            .expect("send");
        assert_eq!(r.status().as_u16(), 200);
        let next = r
            .headers()
            .get("x-next-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let items: Vec<Value> = r.json().expect("json");
        (items, next)
    };
    let (first, next) = page(None);
    assert_eq!(first.len(), 2);
    let token = next.expect("X-Next-Token on a full page");
    let (second, next) = page(Some(&token));
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(next.is_none());
    let mut seen: Vec<String> = first
        .iter()
        .chain(second.iter())
        .map(|v| v["sandboxID"].as_str().unwrap_or_default().to_string())
        .collect();
    seen.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(seen, want);
    for v in first.iter().chain(second.iter()) {
        for k in [
            "templateID",
            "sandboxID",
            "clientID",
            "startedAt",
            "endAt",
            "cpuCount",
            "memoryMB",
            "diskSizeMB",
            "state",
            "envdVersion",
        ] {
            assert!(!v[k].is_null(), "missing {k}: {v}");
        }
        assert_eq!(v["state"], "running");
        assert_eq!(v["metadata"]["suite"], suite.as_str());
        assert!(
            v.get("envdAccessToken").is_none(),
            "lists never carry tokens"
        );
    }

    let count = |q: &[(&str, &str)]| {
        let r = e
            .req(Method::GET, "/v2/sandboxes")
            .query(q)
            .send()
            .expect("send");
        assert_eq!(r.status().as_u16(), 200);
        r.json::<Vec<Value>>().expect("json").len()
    };
    let one = format!("suite={suite}&i=1");
    let by_suite = format!("suite={suite}");
    assert_eq!(count(&[("metadata", &one)]), 1);
    assert_eq!(count(&[("metadata", &by_suite), ("state", "paused")]), 0);
    assert_eq!(count(&[("metadata", &by_suite), ("template", "base")]), 3);
    assert_eq!(count(&[("metadata", &by_suite), ("template", "nope")]), 0);
    assert_eq!(
        count(&[
            ("metadata", &by_suite),
            ("startedAfter", "2000-01-01T00:00:00Z")
        ]),
        3
    );
    assert_eq!(
        count(&[
            ("metadata", &by_suite),
            ("startedAfter", "2999-01-01T00:00:00Z")
        ]),
        0
    );

    // The older list: running sandboxes in one array.
    let r = e
        .req(Method::GET, "/sandboxes")
        .query(&[("metadata", &by_suite)])
        .send()
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Vec<Value>>().expect("json").len(), 3);

    for (q, status) in [
        ("limit=0", 400),
        ("limit=101", 400),
        ("state=killed", 400),
        ("order=asc", 400),
    ] {
        assert_e2b_error(
            e.send(Method::GET, &format!("/v2/sandboxes?{q}"), None),
            status,
        );
    }
    assert_e2b_error(
        e.send(Method::GET, "/v2/sandboxes?nextToken=garbage", None),
        400,
    );

    // Killed sandboxes leave the list.
    e.kill(&ids[0]);
    assert_eq!(count(&[("metadata", &by_suite)]), 2);
    for id in &ids[1..] {
        e.kill(id);
    }
    assert_eq!(count(&[("metadata", &by_suite)]), 0);
}

#[test]
fn e2b_errors_and_refusals() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let e = E2b::new(s);
    let url = |p: &str| format!("{}/e2b/v1{p}", s.url);

    // Auth: missing, wrong, and the Bearer form.
    let r = s.http.get(url("/v2/sandboxes")).send().expect("send");
    assert_e2b_error(r, 401);
    let r = s
        .http
        .get(url("/v2/sandboxes"))
        .header("X-API-Key", "e2b_0000000000000000000000000000000000000000")
        .send()
        .expect("send");
    assert_e2b_error(r, 401);
    let r = s
        .http
        .get(url("/sandboxes/aaaaaaaaaaaaaaaaaaaa"))
        .send()
        .expect("send");
    assert_e2b_error(r, 401);
    let r = s
        .http
        .get(url("/v2/sandboxes"))
        .bearer_auth(&e.key)
        .send()
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let r = s.http.get(url("/health")).send().expect("send");
    assert_eq!(r.status().as_u16(), 200);

    // Unknown sandbox, route, method.
    for (m, p) in [
        (Method::GET, "/sandboxes/aaaaaaaaaaaaaaaaaaaa"),
        (Method::DELETE, "/sandboxes/aaaaaaaaaaaaaaaaaaaa"),
        (Method::POST, "/sandboxes/aaaaaaaaaaaaaaaaaaaa/pause"),
        (Method::GET, "/sandboxes/aaaaaaaaaaaaaaaaaaaa/metrics"),
        (Method::GET, "/sandboxes/aaaaaaaaaaaaaaaaaaaa/logs"),
        (Method::GET, "/no/such/route"),
    ] {
        assert_e2b_error(e.send(m, p, None), 404);
    }
    let r = e.send(
        Method::POST,
        "/sandboxes/aaaaaaaaaaaaaaaaaaaa/timeout",
        Some(json!({"timeout": 5})),
    );
    assert_e2b_error(r, 404);
    assert_e2b_error(e.send(Method::PATCH, "/v2/sandboxes", None), 405);

    // Bad bodies.
    let r = e
        .req(Method::POST, "/v2/sandboxes")
        .body("{not json")
        .send()
        .expect("send");
    assert_e2b_error(r, 400);
    assert_e2b_error(e.send(Method::POST, "/v2/sandboxes", Some(json!({}))), 400);
    let msg = assert_e2b_error(
        e.send(
            Method::POST,
            "/v2/sandboxes",
            Some(json!({"templateID": "base", "bogus": 1})),
        ),
        400,
    );
    assert!(msg.contains("bogus"), "{msg}");

    // Options Cove cannot honour: refused, and a failed create tells the SDK not to retry it.
    for (body, status) in [
        (
            json!({"templateID": "base", "network": {"allowOut": ["1.1.1.1"]}}),
            422,
        ),
        (
            json!({"templateID": "base", "network": {"denyOut": ["0.0.0.0/0"]}}),
            422,
        ),
        (
            json!({"templateID": "base", "network": {"allowPublicTraffic": false}}),
            422,
        ),
        (
            json!({"templateID": "base", "network": {"egressProxy": {"address": "x:1"}}}),
            422,
        ),
        (json!({"templateID": "base", "autoPause": true}), 400),
        (
            json!({"templateID": "base", "autoResume": {"enabled": true}}),
            400,
        ),
        (json!({"templateID": "base", "mcp": {"exa": {}}}), 400),
        (
            json!({"templateID": "base", "volumeMounts": [{"name": "v", "path": "/v"}]}),
            400,
        ),
        (json!({"templateID": "base", "timeout": 0}), 400),
    ] {
        let r = e.send(Method::POST, "/v2/sandboxes", Some(body.clone()));
        assert_eq!(
            r.headers()
                .get("should-retry")
                .and_then(|v| v.to_str().ok()),
            Some("false"),
            "{body}"
        );
        let msg = assert_e2b_error(r, status);
        assert!(
            msg.contains("not supported") || msg.contains("timeout"),
            "{body}: {msg}"
        );
    }
    let r = e
        .req(Method::POST, "/v2/sandboxes")
        .header("Idempotency-Key", "abc")
        .json(&json!({"templateID": "base"}))
        .send()
        .expect("send");
    assert_e2b_error(r, 400);

    // Snapshots, fork and egress updates on a live sandbox: refused; the snapshot list is empty.
    let v = e.create(json!({"templateID": "base"}));
    let id = v["sandboxID"].as_str().unwrap_or_default().to_string();
    assert_e2b_error(
        e.send(
            Method::POST,
            &format!("/sandboxes/{id}/snapshots"),
            Some(json!({})),
        ),
        400,
    );
    assert_e2b_error(
        e.send(
            Method::POST,
            &format!("/sandboxes/{id}/fork"),
            Some(json!({})),
        ),
        400,
    );
    let r = e.send(
        Method::PUT,
        &format!("/sandboxes/{id}/network"),
        Some(json!({"allowOut": ["8.8.8.8"]})),
    );
    assert_e2b_error(r, 422);
    let r = e.send(
        Method::PUT,
        &format!("/sandboxes/{id}/network"),
        Some(json!({"allow_internet_access": false})),
    );
    assert_eq!(r.status().as_u16(), 204);
    let r = e.send(Method::GET, "/snapshots", None);
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().expect("json"), json!([]));
    e.kill(&id);
}
