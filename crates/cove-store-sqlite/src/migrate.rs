//! Embedded schema migrations, tracked with `PRAGMA user_version`.
//!
//! Migration N (1-based) brings the schema to `user_version = N`. Files are never edited once
//! released; a schema change is a new file appended to [`MIGRATIONS`].

use crate::error::db_err;
use cove_store::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};

/// `(name, sql)` in application order.
pub(crate) const MIGRATIONS: &[(&str, &str)] =
    &[("0001_init", include_str!("../migrations/0001_init.sql"))];

/// Applies every migration newer than the database's `user_version`, all in one transaction so a
/// failure leaves the schema exactly as it was.
pub(crate) fn run(conn: &mut Connection) -> StoreResult<()> {
    let target = i64::try_from(MIGRATIONS.len())
        .map_err(|_| StoreError::Other("too many migrations".into()))?;
    // IMMEDIATE takes the write lock before reading the version, so two processes opening the same
    // file at once cannot both decide to apply the same migration.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    if current == target {
        return Ok(());
    }
    let applied = usize::try_from(current)
        .ok()
        .filter(|&n| n <= MIGRATIONS.len())
        .ok_or_else(|| {
            StoreError::Other(format!(
                "database schema version {current} is not one this build knows (latest {target}); \
                 refusing to open it"
            ))
        })?;
    for (name, sql) in &MIGRATIONS[applied..] {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Other(format!("migration {name} failed: {e}")))?;
        tracing::info!(migration = name, "applied store migration");
    }
    tx.pragma_update(None, "user_version", target)
        .map_err(db_err)?;
    tx.commit().map_err(db_err)
}
