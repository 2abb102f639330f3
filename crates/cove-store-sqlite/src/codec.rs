//! Conversions between row models and their column encodings, plus the list cursor format.
//!
//! Decoding failures (a bad state string, unparsable time or JSON) are reported as
//! `rusqlite::Error::FromSqlConversionFailure` so they surface through the one error path and end
//! up as `StoreError::Other`.

use chrono::{DateTime, SecondsFormat, Utc};
use cove_store::{
    ApiKeyRecord, EventRecord, SandboxRecord, StoreError, StoreResult, TemplateRecord,
};
use cove_types::SandboxState;
use rusqlite::types::Type;
use rusqlite::Row;
use std::collections::BTreeMap;

/// Column list matching [`sandbox_from_row`]'s indexes.
pub(crate) const SANDBOX_COLUMNS: &str =
    "id, name, template_id, state, metadata, envs, cpu_count, \
     memory_mb, disk_mb, timeout_secs, created_at, started_at, end_at, ended_at, error, \
     access_token, pid";

/// Column list matching [`event_from_row`]'s indexes.
pub(crate) const EVENT_COLUMNS: &str = "id, sandbox_id, at, kind, message";

/// Column list matching [`api_key_from_row`]'s indexes.
pub(crate) const API_KEY_COLUMNS: &str = "id, name, hash, prefix, is_system, created_at";

/// Column list matching [`template_from_row`]'s indexes.
pub(crate) const TEMPLATE_COLUMNS: &str =
    "id, name, status, source, cpu_count, memory_mb, disk_mb, envs, created_at, error";

/// Terminal states as an SQL list. Must agree with the partial index in `0001_init.sql` and with
/// `SandboxState::is_terminal` (a test checks the latter).
pub(crate) const TERMINAL_STATES_SQL: &str = "('killed', 'error')";

/// Fixed-width RFC 3339 (nanoseconds, `Z`): text comparison then equals time comparison, which
/// the paging index and cursor rely on, and every record round-trips exactly. (Fixed width holds
/// for years 0000-9999, which covers any real sandbox.)
pub(crate) fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

pub(crate) fn fmt_map(m: &BTreeMap<String, String>) -> StoreResult<String> {
    serde_json::to_string(m).map_err(|e| StoreError::Other(format!("cannot encode map: {e}")))
}

fn conv_err(
    idx: usize,
    e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into())
}

fn time_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let s: String = row.get(idx)?;
    parse_time(&s).map_err(|e| conv_err(idx, e))
}

fn opt_time_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| parse_time(&s).map_err(|e| conv_err(idx, e)))
        .transpose()
}

fn map_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<BTreeMap<String, String>> {
    let s: String = row.get(idx)?;
    serde_json::from_str(&s).map_err(|e| conv_err(idx, e))
}

/// Decodes a row selected with [`SANDBOX_COLUMNS`].
pub(crate) fn sandbox_from_row(row: &Row<'_>) -> rusqlite::Result<SandboxRecord> {
    let state: String = row.get(3)?;
    Ok(SandboxRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        template_id: row.get(2)?,
        state: state.parse::<SandboxState>().map_err(|e| conv_err(3, e))?,
        metadata: map_col(row, 4)?,
        envs: map_col(row, 5)?,
        cpu_count: row.get(6)?,
        memory_mb: row.get(7)?,
        disk_mb: row.get(8)?,
        timeout_secs: row.get(9)?,
        created_at: time_col(row, 10)?,
        started_at: opt_time_col(row, 11)?,
        end_at: opt_time_col(row, 12)?,
        ended_at: opt_time_col(row, 13)?,
        error: row.get(14)?,
        access_token: row.get(15)?,
        pid: row.get(16)?,
    })
}

/// Decodes a row selected with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        id: row.get(0)?,
        sandbox_id: row.get(1)?,
        at: time_col(row, 2)?,
        kind: row.get(3)?,
        message: row.get(4)?,
    })
}

/// Decodes a row selected with [`API_KEY_COLUMNS`].
pub(crate) fn api_key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        hash: row.get(2)?,
        prefix: row.get(3)?,
        is_system: row.get(4)?,
        created_at: time_col(row, 5)?,
    })
}

/// Decodes a row selected with [`TEMPLATE_COLUMNS`].
pub(crate) fn template_from_row(row: &Row<'_>) -> rusqlite::Result<TemplateRecord> {
    Ok(TemplateRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        status: row.get(2)?,
        source: row.get(3)?,
        cpu_count: row.get(4)?,
        memory_mb: row.get(5)?,
        disk_mb: row.get(6)?,
        envs: map_col(row, 7)?,
        created_at: time_col(row, 8)?,
        error: row.get(9)?,
    })
}

/// Cursor for the page that follows the item `(created_at, id)`:
/// `"<unix seconds>.<nanoseconds, 9 digits>:<id>"`, e.g. `"1717171717.123456789:abc123"`.
/// Callers treat it as opaque; it is URL-safe as long as ids are (`[a-z0-9]`).
pub(crate) fn encode_cursor(created_at: &DateTime<Utc>, id: &str) -> String {
    format!(
        "{}.{:09}:{id}",
        created_at.timestamp(),
        created_at.timestamp_subsec_nanos()
    )
}

/// Inverse of [`encode_cursor`], yielding the stored `created_at` text and the id, or `None` if
/// `cursor` was not produced by it.
pub(crate) fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    let (ts, id) = cursor.split_once(':')?;
    let (secs, nanos) = ts.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let secs_digits = secs.strip_prefix('-').unwrap_or(secs);
    if id.is_empty() || !digits(secs_digits) || !digits(nanos) {
        return None;
    }
    let at = DateTime::from_timestamp(secs.parse().ok()?, nanos.parse().ok()?)?;
    Some((fmt_time(&at), id.to_string()))
}
