//! Tests against real SQLite databases, both in memory and in temporary files.

use super::*;
use chrono::{DateTime, TimeZone, Utc};
use cove_types::SandboxState;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "cove-store-sqlite-test-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, nanos).single().expect("valid time")
}

fn sandbox(id: &str, name: &str, created_secs: i64) -> SandboxRecord {
    SandboxRecord {
        id: id.to_string(),
        name: name.to_string(),
        template_id: "base".to_string(),
        state: SandboxState::Running,
        metadata: BTreeMap::new(),
        envs: BTreeMap::new(),
        cpu_count: 1,
        memory_mb: 512,
        disk_mb: 1024,
        timeout_secs: 300,
        created_at: at(created_secs, 0),
        started_at: None,
        end_at: None,
        ended_at: None,
        error: None,
        access_token: format!("tok-{id}"),
        pid: None,
    }
}

fn full_sandbox() -> SandboxRecord {
    SandboxRecord {
        id: "abc0123456789xyz0001".to_string(),
        name: "full".to_string(),
        template_id: "tpl-python".to_string(),
        state: SandboxState::Booting,
        metadata: map(&[("owner", "alice"), ("odd \"key\".$", "ünïcode")]),
        envs: map(&[("PATH", "/usr/bin"), ("EMPTY", "")]),
        cpu_count: 4,
        memory_mb: u64::from(u32::MAX) + 7,
        disk_mb: 20_480,
        timeout_secs: 3600,
        created_at: at(1_717_171_717, 123_456_789),
        started_at: Some(at(1_717_171_718, 1)),
        end_at: Some(at(1_717_175_317, 999_999_999)),
        ended_at: None,
        error: Some("nothing yet".to_string()),
        access_token: "secret-token".to_string(),
        pid: Some(4242),
    }
}

async fn file_store(dir: &TempDir) -> SqliteStore {
    // A nested path checks that missing parent directories are created.
    SqliteStore::open(&dir.0.join("nested/cove.db"))
        .await
        .expect("open file store")
}

async fn both_stores(dir: &TempDir) -> Vec<SqliteStore> {
    vec![
        SqliteStore::open_in_memory().await.expect("open memory"),
        file_store(dir).await,
    ]
}

#[test]
fn terminal_states_sql_matches_state_machine() {
    let terminal: Vec<String> = SandboxState::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    assert_eq!(TERMINAL_STATES_SQL, format!("({})", terminal.join(", ")));
    let migration = migrate::MIGRATIONS[0].1;
    assert!(migration.contains(&format!("WHERE state NOT IN {TERMINAL_STATES_SQL}")));
}

#[test]
fn cursor_round_trips_and_rejects_garbage() {
    let t = at(1_717_171_717, 5);
    let c = encode_cursor(&t, "abc");
    assert_eq!(c, "1717171717.000000005:abc");
    assert_eq!(decode_cursor(&c), Some((fmt_time(&t), "abc".to_string())));
    let old = at(-5, 10);
    assert_eq!(
        decode_cursor(&encode_cursor(&old, "x")),
        Some((fmt_time(&old), "x".to_string()))
    );
    for bad in [
        "",
        "abc",
        "1.2",
        "1.2:",
        "x.1:a",
        "1.x:a",
        "+1.1:a",
        "1.:a",
        "99999999999999999999.0:a",
    ] {
        assert_eq!(decode_cursor(bad), None, "{bad:?}");
    }
}

#[tokio::test]
async fn sandbox_round_trip_every_field() {
    let dir = TempDir::new();
    for store in both_stores(&dir).await {
        let mut rec = full_sandbox();
        store.insert_sandbox(&rec).await.expect("insert");
        assert_eq!(store.get_sandbox(&rec.id).await.expect("get"), rec);
        assert_eq!(
            store.get_sandbox_by_name("full").await.expect("by name"),
            rec
        );

        rec.name = "renamed".to_string();
        rec.template_id = "tpl-node".to_string();
        rec.state = SandboxState::Killed;
        rec.metadata = map(&[("k", "v")]);
        rec.envs = BTreeMap::new();
        rec.cpu_count = 2;
        rec.memory_mb = 256;
        rec.disk_mb = 1;
        rec.timeout_secs = 0;
        rec.started_at = None;
        rec.end_at = None;
        rec.ended_at = Some(at(1_800_000_000, 42));
        rec.error = None;
        rec.access_token = "other".to_string();
        rec.pid = None;
        store.update_sandbox(&rec).await.expect("update");
        assert_eq!(store.get_sandbox(&rec.id).await.expect("get"), rec);

        let missing = sandbox("nope", "nope", 1);
        assert!(matches!(
            store.update_sandbox(&missing).await,
            Err(StoreError::NotFound {
                entity: "sandbox",
                ..
            })
        ));
        assert!(matches!(
            store.get_sandbox("nope").await,
            Err(StoreError::NotFound { entity: "sandbox", key }) if key == "nope"
        ));
        assert!(matches!(
            store.get_sandbox_by_name("nope").await,
            Err(StoreError::NotFound {
                entity: "sandbox",
                ..
            })
        ));
    }
}

#[tokio::test]
async fn name_is_unique_among_live_sandboxes_only() {
    let dir = TempDir::new();
    for store in both_stores(&dir).await {
        let mut first = sandbox("a1", "web", 10);
        store.insert_sandbox(&first).await.expect("insert first");

        let dup_id = sandbox("a1", "other", 11);
        match store.insert_sandbox(&dup_id).await {
            Err(StoreError::Conflict(msg)) => assert!(msg.contains("a1"), "{msg}"),
            other => panic!("expected id conflict, got {other:?}"),
        }
        let dup_name = sandbox("a2", "web", 11);
        match store.insert_sandbox(&dup_name).await {
            Err(StoreError::Conflict(msg)) => {
                assert_eq!(msg, "name 'web' is used by a live sandbox")
            }
            other => panic!("expected name conflict, got {other:?}"),
        }

        // A dead sandbox may share the name, and killing the live one frees it.
        let mut dead = sandbox("a0", "web", 5);
        dead.state = SandboxState::Error;
        store.insert_sandbox(&dead).await.expect("dead may share");
        first.state = SandboxState::Killed;
        store.update_sandbox(&first).await.expect("kill");
        store.insert_sandbox(&dup_name).await.expect("name freed");
        assert_eq!(
            store.get_sandbox_by_name("web").await.expect("live").id,
            "a2"
        );

        // Reviving a dead one under a taken name is a conflict too.
        dead.state = SandboxState::Running;
        assert!(matches!(
            store.update_sandbox(&dead).await,
            Err(StoreError::Conflict(_))
        ));
        // A rename into a live name conflicts as well.
        let mut b = sandbox("b1", "api", 12);
        store.insert_sandbox(&b).await.expect("insert b");
        b.name = "web".to_string();
        assert!(matches!(
            store.update_sandbox(&b).await,
            Err(StoreError::Conflict(_))
        ));

        // With no live one, the most recently created dead one wins.
        let mut live = store.get_sandbox("a2").await.expect("a2");
        live.state = SandboxState::Killed;
        store.update_sandbox(&live).await.expect("kill a2");
        assert_eq!(
            store.get_sandbox_by_name("web").await.expect("dead").id,
            "a2"
        );

        let ids: BTreeSet<String> = store
            .list_live_sandboxes()
            .await
            .expect("live")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, BTreeSet::from(["b1".to_string()]));
    }
}

#[tokio::test]
async fn list_filters() {
    let dir = TempDir::new();
    for store in both_stores(&dir).await {
        let mut a = sandbox("a", "a", 1);
        a.metadata = map(&[("team", "x"), ("env", "prod"), ("we\"ird.key", "1")]);
        let mut b = sandbox("b", "b", 2);
        b.metadata = map(&[("team", "x"), ("env", "dev")]);
        b.state = SandboxState::Paused;
        let mut c = sandbox("c", "c", 3);
        c.template_id = "other".to_string();
        c.metadata = map(&[("team", "y")]);
        c.state = SandboxState::Killed;
        for r in [&a, &b, &c] {
            store.insert_sandbox(r).await.expect("insert");
        }
        let ids = |page: SandboxPage| page.items.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let list = |f: SandboxFilter| {
            let store = store.clone();
            async move {
                store
                    .list_sandboxes(&SandboxFilter { limit: 10, ..f })
                    .await
            }
        };

        assert_eq!(
            ids(list(SandboxFilter::default()).await.expect("all")),
            ["c", "b", "a"]
        );
        let f = SandboxFilter {
            states: vec![SandboxState::Running, SandboxState::Killed],
            ..Default::default()
        };
        assert_eq!(ids(list(f).await.expect("states")), ["c", "a"]);
        let f = SandboxFilter {
            metadata: map(&[("team", "x")]),
            ..Default::default()
        };
        assert_eq!(ids(list(f).await.expect("team")), ["b", "a"]);
        let f = SandboxFilter {
            metadata: map(&[("team", "x"), ("env", "prod")]),
            ..Default::default()
        };
        assert_eq!(ids(list(f).await.expect("team+env")), ["a"]);
        let f = SandboxFilter {
            metadata: map(&[("we\"ird.key", "1")]),
            ..Default::default()
        };
        assert_eq!(ids(list(f).await.expect("weird key")), ["a"]);
        let f = SandboxFilter {
            metadata: map(&[("team", "z")]),
            ..Default::default()
        };
        assert!(ids(list(f).await.expect("none")).is_empty());
        let f = SandboxFilter {
            template_id: Some("other".to_string()),
            ..Default::default()
        };
        assert_eq!(ids(list(f).await.expect("template")), ["c"]);
        let f = SandboxFilter {
            states: vec![SandboxState::Paused, SandboxState::Running],
            metadata: map(&[("team", "x")]),
            template_id: Some("base".to_string()),
            ..Default::default()
        };
        let page = list(f).await.expect("combined");
        assert!(page.next_cursor.is_none());
        assert_eq!(ids(page), ["b", "a"]);

        let f = SandboxFilter {
            cursor: Some("garbage".to_string()),
            ..Default::default()
        };
        assert!(matches!(
            list(f).await,
            Err(StoreError::NotFound { entity: "cursor", key }) if key == "garbage"
        ));
    }
}

#[tokio::test]
async fn pagination_covers_everything_once() {
    let dir = TempDir::new();
    for store in both_stores(&dir).await {
        // Ties on created_at force the id tiebreak to matter.
        let mut expected = Vec::new();
        for i in 0..7 {
            let rec = sandbox(&format!("s{i}"), &format!("n{i}"), 100 + i / 3);
            store.insert_sandbox(&rec).await.expect("insert");
            expected.push((rec.created_at, rec.id));
        }
        expected.sort();
        expected.reverse();
        let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = store
                .list_sandboxes(&SandboxFilter {
                    cursor: cursor.clone(),
                    limit: 3,
                    ..Default::default()
                })
                .await
                .expect("page");
            pages += 1;
            assert!(page.items.len() <= 3);
            seen.extend(page.items.into_iter().map(|r| r.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, expected);

        // An exact multiple of the page size must not yield a trailing empty page.
        let page = store
            .list_sandboxes(&SandboxFilter {
                limit: 7,
                ..Default::default()
            })
            .await
            .expect("one page");
        assert_eq!(page.items.len(), 7);
        assert!(page.next_cursor.is_none());
    }
}

#[tokio::test]
async fn events_are_listed_in_order() {
    let dir = TempDir::new();
    for store in both_stores(&dir).await {
        store
            .insert_sandbox(&sandbox("e1", "e1", 1))
            .await
            .expect("insert");
        store
            .insert_sandbox(&sandbox("e2", "e2", 1))
            .await
            .expect("insert");
        let mut appended = Vec::new();
        for (i, kind) in ["created", "setup", "running", "killed"].iter().enumerate() {
            appended.push(
                store
                    .append_event("e1", kind, &format!("msg {i}"))
                    .await
                    .expect("append"),
            );
            store
                .append_event("e2", "noise", "x")
                .await
                .expect("append");
        }
        let listed = store.list_events("e1").await.expect("list");
        assert_eq!(listed, appended);
        assert!(listed.windows(2).all(|w| w[0].id < w[1].id));
        assert!(store.list_events("none").await.expect("list").is_empty());
        assert!(matches!(
            store.append_event("none", "x", "y").await,
            Err(StoreError::NotFound {
                entity: "sandbox",
                ..
            })
        ));
    }
}

#[tokio::test]
async fn api_keys_by_hash() {
    let dir = TempDir::new();
    for store in both_stores(&dir).await {
        let key = ApiKeyRecord {
            id: "k1".to_string(),
            name: "system".to_string(),
            hash: "ab".repeat(32),
            prefix: "cove_ab".to_string(),
            is_system: true,
            created_at: at(1_000, 1),
        };
        let other = ApiKeyRecord {
            id: "k2".to_string(),
            name: "ci".to_string(),
            hash: "cd".repeat(32),
            prefix: "cove_cd".to_string(),
            is_system: false,
            created_at: at(2_000, 0),
        };
        store.insert_api_key(&other).await.expect("insert");
        store.insert_api_key(&key).await.expect("insert");
        assert_eq!(
            store.find_api_key_by_hash(&key.hash).await.expect("find"),
            key
        );
        assert!(matches!(
            store.find_api_key_by_hash("ff").await,
            Err(StoreError::NotFound {
                entity: "api key",
                ..
            })
        ));
        let dup_hash = ApiKeyRecord {
            id: "k3".to_string(),
            ..key.clone()
        };
        assert!(matches!(
            store.insert_api_key(&dup_hash).await,
            Err(StoreError::Conflict(_))
        ));
        let dup_id = ApiKeyRecord {
            hash: "ef".repeat(32),
            ..key.clone()
        };
        assert!(matches!(
            store.insert_api_key(&dup_id).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.list_api_keys().await.expect("list"), [key, other]);
    }
}

#[tokio::test]
async fn templates_upsert_and_lookup() {
    let dir = TempDir::new();
    for store in both_stores(&dir).await {
        let mut t = TemplateRecord {
            id: "t1".to_string(),
            name: "python".to_string(),
            status: "building".to_string(),
            source: r#"{"dir":"/var/lib/cove/t1"}"#.to_string(),
            cpu_count: 2,
            memory_mb: 1024,
            disk_mb: 4096,
            envs: map(&[("LANG", "C.UTF-8")]),
            created_at: at(500, 0),
            error: None,
        };
        store.upsert_template(&t).await.expect("insert");
        assert_eq!(store.get_template("t1").await.expect("by id"), t);
        assert_eq!(store.get_template("python").await.expect("by name"), t);

        t.status = "error".to_string();
        t.error = Some("build failed".to_string());
        t.name = "python3".to_string();
        store.upsert_template(&t).await.expect("replace");
        assert_eq!(store.get_template("python3").await.expect("by name"), t);
        assert!(matches!(
            store.get_template("python").await,
            Err(StoreError::NotFound {
                entity: "template",
                ..
            })
        ));

        let clash = TemplateRecord {
            id: "t2".to_string(),
            created_at: at(600, 0),
            ..t.clone()
        };
        match store.upsert_template(&clash).await {
            Err(StoreError::Conflict(msg)) => assert!(msg.contains("python3"), "{msg}"),
            other => panic!("expected conflict, got {other:?}"),
        }
        // An id match takes precedence over another template's name.
        let tricky = TemplateRecord {
            id: "t3".to_string(),
            name: "t1".to_string(),
            created_at: at(700, 0),
            ..t.clone()
        };
        store.upsert_template(&tricky).await.expect("insert t3");
        assert_eq!(store.get_template("t1").await.expect("id wins").id, "t1");
        let ids: Vec<String> = store
            .list_templates()
            .await
            .expect("list")
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, ["t1", "t3"]);
    }
}

#[tokio::test]
async fn reopen_keeps_data_and_migrations_are_idempotent() {
    let dir = TempDir::new();
    let rec = full_sandbox();
    {
        let store = file_store(&dir).await;
        store.insert_sandbox(&rec).await.expect("insert");
        store
            .append_event(&rec.id, "created", "hi")
            .await
            .expect("event");
    }
    for _ in 0..2 {
        let store = file_store(&dir).await;
        assert_eq!(store.get_sandbox(&rec.id).await.expect("kept"), rec);
        assert_eq!(store.list_events(&rec.id).await.expect("events").len(), 1);
        let (version, mode): (i64, String) = store
            .write(|conn| {
                let v = conn
                    .query_row("PRAGMA user_version", [], |r| r.get(0))
                    .map_err(db_err)?;
                let m = conn
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .map_err(db_err)?;
                Ok((v, m))
            })
            .await
            .expect("pragmas");
        assert_eq!(version, migrate::MIGRATIONS.len() as i64);
        assert_eq!(mode, "wal");
    }
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = TempDir::new();
    let store = file_store(&dir).await;
    store
        .write(|conn| conn.pragma_update(None, "user_version", 99).map_err(db_err))
        .await
        .expect("bump version");
    drop(store);
    let path = dir.0.join("nested/cove.db");
    assert!(matches!(
        SqliteStore::open(&path).await,
        Err(StoreError::Other(msg)) if msg.contains("99")
    ));
}

#[tokio::test]
async fn bad_state_in_row_is_other() {
    let store = SqliteStore::open_in_memory().await.expect("open");
    store
        .insert_sandbox(&sandbox("bad", "bad", 1))
        .await
        .expect("insert");
    store
        .write(|conn| {
            conn.execute("UPDATE sandboxes SET state = 'zombie' WHERE id = 'bad'", [])
                .map_err(db_err)
        })
        .await
        .expect("corrupt");
    assert!(matches!(
        store.get_sandbox("bad").await,
        Err(StoreError::Other(msg)) if msg.contains("zombie")
    ));
}

#[tokio::test]
async fn concurrent_writes_and_reads() {
    let dir = TempDir::new();
    let store = file_store(&dir).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let rec = sandbox(&format!("c{i}"), &format!("c{i}"), i);
            store.insert_sandbox(&rec).await?;
            store.get_sandbox(&rec.id).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("insert+get");
    }
    assert_eq!(store.list_live_sandboxes().await.expect("live").len(), 20);
}
