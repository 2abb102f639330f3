//! Translation of `rusqlite` errors into [`StoreError`], so driver types never leave this crate.

use cove_store::StoreError;
use rusqlite::ErrorCode;

/// Maps any driver error that has no more specific meaning at the call site.
pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match sqlite_code(&e) {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
            StoreError::Unavailable(e.to_string())
        }
        // Call sites that can violate a constraint phrase their own message; this is the fallback
        // so a violation still reaches the caller as a conflict rather than an internal error.
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

/// Like [`db_err`], but a uniqueness violation becomes `Conflict(msg(detail))` where `detail` is
/// SQLite's own description (e.g. `UNIQUE constraint failed: sandboxes.name`), letting the call
/// site say which rule was broken in the caller's terms.
pub(crate) fn db_err_conflict(e: rusqlite::Error, msg: impl FnOnce(&str) -> String) -> StoreError {
    match (&e, sqlite_code(&e)) {
        (rusqlite::Error::SqliteFailure(_, detail), Some(ErrorCode::ConstraintViolation)) => {
            StoreError::Conflict(msg(detail.as_deref().unwrap_or_default()))
        }
        _ => db_err(e),
    }
}

/// Like [`db_err`], but "no rows" becomes `NotFound { entity, key }`.
pub(crate) fn db_err_not_found(e: rusqlite::Error, entity: &'static str, key: &str) -> StoreError {
    match e {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound {
            entity,
            key: key.to_string(),
        },
        other => db_err(other),
    }
}

fn sqlite_code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

/// True when `e` is a `FOREIGN KEY constraint failed` error (a referenced row is missing).
pub(crate) fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}
