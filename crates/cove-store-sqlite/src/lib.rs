//! The embedded SQLite implementation of [`cove_store::Store`].
//!
//! One writer connection sits behind a `std::sync::Mutex`; for file databases a few extra
//! connections serve reads, which WAL mode lets run alongside the writer. Every database call runs
//! in `tokio::task::spawn_blocking`, and no lock is ever held across an `.await`.
//!
//! Schema migrations are embedded from `migrations/*.sql` and applied on open.

mod codec;
mod error;
mod migrate;
/// Runs a query and collects every row, translating driver errors.
fn query_all<T, P: rusqlite::Params>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: P,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare(sql).map_err(db_err)?;
    let rows = stmt
        .query_map(params, map)
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    Ok(rows)
}

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use codec::{
    api_key_from_row, decode_cursor, encode_cursor, event_from_row, fmt_map, fmt_time,
    sandbox_from_row, template_from_row, API_KEY_COLUMNS, EVENT_COLUMNS, SANDBOX_COLUMNS,
    TEMPLATE_COLUMNS, TERMINAL_STATES_SQL,
};
use cove_store::{
    ApiKeyRecord, EventRecord, SandboxFilter, SandboxPage, SandboxRecord, Store, StoreError,
    StoreResult, TemplateRecord,
};
use error::{db_err, db_err_conflict, db_err_not_found, is_foreign_key_violation};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Read connections opened next to the writer for file databases.
const READERS: usize = 4;

/// How long a statement waits for another connection's lock before failing as `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// [`Store`] on an SQLite file (or an in-memory database for tests). Cheap to clone; clones share
/// the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    /// Empty for in-memory databases, whose data is private to the writer connection.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("readers", &self.inner.readers.len())
            .finish_non_exhaustive()
    }
}

/// A panic while a connection was locked cannot leave it mid-transaction (rusqlite rolls back on
/// drop), so the connection is still usable and poisoning is ignored rather than failing forever.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn blocking<T, F>(f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other(format!("store worker failed: {e}")))?
}

fn configure(conn: &Connection, reader: bool) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(db_err)?;
    // NORMAL is durable against application crashes under WAL and only risks the last commits on
    // power loss, which is the right trade for sandbox bookkeeping that is reconciled on boot.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(db_err)?;
    if reader {
        // Guards against a future code path accidentally writing through a reader, which would
        // bypass the writer mutex and turn into SQLITE_BUSY under load.
        conn.pragma_update(None, "query_only", true)
            .map_err(db_err)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed, along with its parent directory) the database at `path`, in WAL
    /// mode, and applies pending migrations.
    ///
    /// Fails with `Unavailable` if the file or directory cannot be created or opened, and with
    /// `Other` if the database has a schema version this build does not know.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let path = path.to_path_buf();
        blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let mut writer = Connection::open(&path).map_err(db_err)?;
            configure(&writer, false)?;
            let mode: String = writer
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(db_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(path = %path.display(), mode, "sqlite store is not in WAL mode");
            }
            migrate::run(&mut writer)?;
            let readers = (0..READERS)
                .map(|_| {
                    let conn = Connection::open(&path).map_err(db_err)?;
                    configure(&conn, true)?;
                    Ok(Mutex::new(conn))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Self::from_parts(writer, readers))
        })
        .await
    }

    /// A fresh private in-memory database with the schema applied (for tests).
    pub async fn open_in_memory() -> StoreResult<SqliteStore> {
        blocking(|| {
            let mut writer = Connection::open_in_memory().map_err(db_err)?;
            configure(&writer, false)?;
            migrate::run(&mut writer)?;
            Ok(Self::from_parts(writer, Vec::new()))
        })
        .await
    }

    fn from_parts(writer: Connection, readers: Vec<Mutex<Connection>>) -> SqliteStore {
        SqliteStore {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        }
    }

    /// Runs `f` on the writer connection in a blocking thread.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || f(&mut lock(&inner.writer))).await
    }

    /// Runs `f` on a read connection (the writer when there are none) in a blocking thread.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || f(&inner.reader())).await
    }
}

impl Inner {
    /// A free reader if one is idle, else waits on the next one in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let n = self.readers.len();
        if n == 0 {
            return lock(&self.writer);
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            match self.readers[(start + i) % n].try_lock() {
                Ok(g) => return g,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        lock(&self.readers[start % n])
    }
}

/// A sandbox's column values, encoded once for binding.
struct SandboxParams {
    metadata: String,
    envs: String,
    created_at: String,
    started_at: Option<String>,
    end_at: Option<String>,
    ended_at: Option<String>,
}

impl SandboxParams {
    fn new(rec: &SandboxRecord) -> StoreResult<Self> {
        Ok(Self {
            metadata: fmt_map(&rec.metadata)?,
            envs: fmt_map(&rec.envs)?,
            created_at: fmt_time(&rec.created_at),
            started_at: rec.started_at.as_ref().map(fmt_time),
            end_at: rec.end_at.as_ref().map(fmt_time),
            ended_at: rec.ended_at.as_ref().map(fmt_time),
        })
    }
}

fn sandbox_conflict(rec: &SandboxRecord) -> impl FnOnce(&str) -> String + '_ {
    move |detail| {
        if detail.contains("sandboxes.id") {
            format!("sandbox id '{}' already exists", rec.id)
        } else {
            format!("name '{}' is used by a live sandbox", rec.name)
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_sandbox(&self, rec: &SandboxRecord) -> StoreResult<()> {
        let rec = rec.clone();
        self.write(move |conn| {
            let p = SandboxParams::new(&rec)?;
            conn.execute(
                &format!(
                    "INSERT INTO sandboxes ({SANDBOX_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
                ),
                params![
                    rec.id,
                    rec.name,
                    rec.template_id,
                    rec.state.as_str(),
                    p.metadata,
                    p.envs,
                    rec.cpu_count,
                    rec.memory_mb,
                    rec.disk_mb,
                    rec.timeout_secs,
                    p.created_at,
                    p.started_at,
                    p.end_at,
                    p.ended_at,
                    rec.error,
                    rec.access_token,
                    rec.pid,
                ],
            )
            .map_err(|e| db_err_conflict(e, sandbox_conflict(&rec)))?;
            Ok(())
        })
        .await
    }

    /// `created_at` is treated as immutable (it is the paging key) and is not updated.
    async fn update_sandbox(&self, rec: &SandboxRecord) -> StoreResult<()> {
        let rec = rec.clone();
        self.write(move |conn| {
            let p = SandboxParams::new(&rec)?;
            let changed = conn
                .execute(
                    "UPDATE sandboxes SET name = ?2, template_id = ?3, state = ?4, metadata = ?5, \
                     envs = ?6, cpu_count = ?7, memory_mb = ?8, disk_mb = ?9, timeout_secs = ?10, \
                     started_at = ?11, end_at = ?12, ended_at = ?13, error = ?14, \
                     access_token = ?15, pid = ?16 \
                     WHERE id = ?1",
                    params![
                        rec.id,
                        rec.name,
                        rec.template_id,
                        rec.state.as_str(),
                        p.metadata,
                        p.envs,
                        rec.cpu_count,
                        rec.memory_mb,
                        rec.disk_mb,
                        rec.timeout_secs,
                        p.started_at,
                        p.end_at,
                        p.ended_at,
                        rec.error,
                        rec.access_token,
                        rec.pid,
                    ],
                )
                .map_err(|e| db_err_conflict(e, sandbox_conflict(&rec)))?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: "sandbox",
                    key: rec.id.clone(),
                });
            }
            Ok(())
        })
        .await
    }

    async fn get_sandbox(&self, id: &str) -> StoreResult<SandboxRecord> {
        let id = id.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {SANDBOX_COLUMNS} FROM sandboxes WHERE id = ?1"),
                [&id],
                sandbox_from_row,
            )
            .map_err(|e| db_err_not_found(e, "sandbox", &id))
        })
        .await
    }

    async fn get_sandbox_by_name(&self, name: &str) -> StoreResult<SandboxRecord> {
        let name = name.to_string();
        self.read(move |conn| {
            // `state IN (...)` is 0 for the (at most one) live sandbox, so it sorts first.
            conn.query_row(
                &format!(
                    "SELECT {SANDBOX_COLUMNS} FROM sandboxes WHERE name = ?1 \
                     ORDER BY state IN {TERMINAL_STATES_SQL}, created_at DESC, id DESC LIMIT 1"
                ),
                [&name],
                sandbox_from_row,
            )
            .map_err(|e| db_err_not_found(e, "sandbox", &name))
        })
        .await
    }

    /// Keyset-paged listing, newest first by `(created_at, id)`.
    ///
    /// The cursor is `"<unix seconds>.<9-digit nanoseconds>:<id>"` of the last item on the
    /// previous page. A cursor this store did not produce yields
    /// `StoreError::NotFound { entity: "cursor", key: <the cursor> }`, which surfaces should map
    /// to a 400 (the trait has no "bad input" variant).
    ///
    /// Metadata filters match keys exactly via `json_each`, so keys containing quotes or dots
    /// (which `json_extract` paths cannot express) work too.
    async fn list_sandboxes(&self, filter: &SandboxFilter) -> StoreResult<SandboxPage> {
        let filter = filter.clone();
        self.read(move |conn| {
            let limit = filter.limit.max(1);
            let mut sql = format!("SELECT {SANDBOX_COLUMNS} FROM sandboxes AS s WHERE 1 = 1");
            let mut args: Vec<Value> = Vec::new();
            if !filter.states.is_empty() {
                let marks = vec!["?"; filter.states.len()].join(", ");
                sql.push_str(&format!(" AND s.state IN ({marks})"));
                args.extend(
                    filter
                        .states
                        .iter()
                        .map(|s| Value::Text(s.as_str().to_string())),
                );
            }
            for (key, value) in &filter.metadata {
                sql.push_str(
                    " AND EXISTS (SELECT 1 FROM json_each(s.metadata) AS m \
                     WHERE m.key = ? AND m.value = ?)",
                );
                args.push(Value::Text(key.clone()));
                args.push(Value::Text(value.clone()));
            }
            if let Some(template_id) = &filter.template_id {
                sql.push_str(" AND s.template_id = ?");
                args.push(Value::Text(template_id.clone()));
            }
            if let Some(cursor) = &filter.cursor {
                let (created_at, id) =
                    decode_cursor(cursor).ok_or_else(|| StoreError::NotFound {
                        entity: "cursor",
                        key: cursor.clone(),
                    })?;
                sql.push_str(" AND (s.created_at, s.id) < (?, ?)");
                args.push(Value::Text(created_at));
                args.push(Value::Text(id));
            }
            // One extra row tells whether another page exists without a COUNT query.
            sql.push_str(" ORDER BY s.created_at DESC, s.id DESC LIMIT ?");
            args.push(Value::Integer(i64::from(limit) + 1));

            let mut stmt = conn.prepare(&sql).map_err(db_err)?;
            let mut items = stmt
                .query_map(params_from_iter(args), sandbox_from_row)
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|r| encode_cursor(&r.created_at, &r.id))
            } else {
                None
            };
            Ok(SandboxPage { items, next_cursor })
        })
        .await
    }

    async fn list_live_sandboxes(&self) -> StoreResult<Vec<SandboxRecord>> {
        self.read(|conn| {
            query_all(
                conn,
                &format!(
                    "SELECT {SANDBOX_COLUMNS} FROM sandboxes \
                     WHERE state NOT IN {TERMINAL_STATES_SQL}"
                ),
                [],
                sandbox_from_row,
            )
        })
        .await
    }

    async fn append_event(
        &self,
        sandbox_id: &str,
        kind: &str,
        message: &str,
    ) -> StoreResult<EventRecord> {
        let (sandbox_id, kind, message) = (
            sandbox_id.to_string(),
            kind.to_string(),
            message.to_string(),
        );
        self.write(move |conn| {
            let at = chrono::Utc::now();
            conn.execute(
                "INSERT INTO sandbox_events (sandbox_id, at, kind, message) VALUES (?1, ?2, ?3, ?4)",
                params![sandbox_id, fmt_time(&at), kind, message],
            )
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    StoreError::NotFound {
                        entity: "sandbox",
                        key: sandbox_id.clone(),
                    }
                } else {
                    db_err(e)
                }
            })?;
            // Safe to read back: the writer mutex is held, so no other insert ran in between.
            let id = conn.last_insert_rowid();
            Ok(EventRecord {
                id,
                sandbox_id,
                at,
                kind,
                message,
            })
        })
        .await
    }

    async fn list_events(&self, sandbox_id: &str) -> StoreResult<Vec<EventRecord>> {
        let sandbox_id = sandbox_id.to_string();
        self.read(move |conn| {
            query_all(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM sandbox_events WHERE sandbox_id = ?1 ORDER BY id"
                ),
                [&sandbox_id],
                event_from_row,
            )
        })
        .await
    }

    async fn insert_api_key(&self, rec: &ApiKeyRecord) -> StoreResult<()> {
        let rec = rec.clone();
        self.write(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    rec.id,
                    rec.name,
                    rec.hash,
                    rec.prefix,
                    rec.is_system,
                    fmt_time(&rec.created_at)
                ],
            )
            .map_err(|e| {
                db_err_conflict(e, |detail| {
                    if detail.contains("api_keys.hash") {
                        "an api key with the same secret already exists".to_string()
                    } else {
                        format!("api key id '{}' already exists", rec.id)
                    }
                })
            })?;
            Ok(())
        })
        .await
    }

    async fn find_api_key_by_hash(&self, hash: &str) -> StoreResult<ApiKeyRecord> {
        let hash = hash.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE hash = ?1"),
                [&hash],
                api_key_from_row,
            )
            // The key is a secret's hash: keep it out of error messages and logs.
            .map_err(|e| db_err_not_found(e, "api key", "(by hash)"))
        })
        .await
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        self.read(|conn| {
            query_all(
                conn,
                &format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"),
                [],
                api_key_from_row,
            )
        })
        .await
    }

    async fn upsert_template(&self, rec: &TemplateRecord) -> StoreResult<()> {
        let rec = rec.clone();
        self.write(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO templates ({TEMPLATE_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                     status = excluded.status, source = excluded.source, \
                     cpu_count = excluded.cpu_count, memory_mb = excluded.memory_mb, \
                     disk_mb = excluded.disk_mb, envs = excluded.envs, \
                     created_at = excluded.created_at, error = excluded.error"
                ),
                params![
                    rec.id,
                    rec.name,
                    rec.status,
                    rec.source,
                    rec.cpu_count,
                    rec.memory_mb,
                    rec.disk_mb,
                    fmt_map(&rec.envs)?,
                    fmt_time(&rec.created_at),
                    rec.error,
                ],
            )
            .map_err(|e| {
                db_err_conflict(e, |_| {
                    format!("template name '{}' is used by another template", rec.name)
                })
            })?;
            Ok(())
        })
        .await
    }

    async fn get_template(&self, id_or_name: &str) -> StoreResult<TemplateRecord> {
        let key = id_or_name.to_string();
        self.read(move |conn| {
            // An id match wins if one template's name equals another's id.
            conn.query_row(
                &format!(
                    "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = ?1 OR name = ?1 \
                     ORDER BY id = ?1 DESC LIMIT 1"
                ),
                [&key],
                template_from_row,
            )
            .map_err(|e| db_err_not_found(e, "template", &key))
        })
        .await
    }

    async fn delete_template(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |conn| Self::delete_template_sql(conn, &id))
            .await
    }

    async fn list_templates(&self) -> StoreResult<Vec<TemplateRecord>> {
        self.read(|conn| {
            query_all(
                conn,
                &format!("SELECT {TEMPLATE_COLUMNS} FROM templates ORDER BY created_at, id"),
                [],
                template_from_row,
            )
        })
        .await
    }
}

impl SqliteStore {
    fn delete_template_sql(conn: &Connection, id: &str) -> StoreResult<()> {
        let n = conn
            .execute("DELETE FROM templates WHERE id = ?1", [id])
            .map_err(db_err)?;
        if n == 0 {
            return Err(StoreError::NotFound {
                entity: "template",
                key: id.to_string(),
            });
        }
        Ok(())
    }
}

/// Compile-time check that the store can be shared as the trait object `cove-core` uses.
const _: fn() = || {
    fn assert_store<T: Store>() {}
    assert_store::<SqliteStore>();
};
