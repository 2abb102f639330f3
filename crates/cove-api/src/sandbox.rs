//! Sandbox lifecycle, exec and logs shapes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Largest amount of stdout (and, separately, stderr) returned by `exec`; the rest is dropped and
/// `truncated` is set. The process keeps running to completion either way.
pub const EXEC_OUTPUT_CAP_BYTES: usize = 10 * 1024 * 1024;

/// `POST /v1/sandboxes`. Every field is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSandboxRequest {
    /// Template id or name (default `base`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Lowercase letters, digits and `-`, at most 50; unique among live sandboxes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Auto-kill after this many seconds (default 300; 0 = never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Free-form labels, filterable in list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Environment of every process in the sandbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envs: Option<BTreeMap<String, String>>,
    /// CPU cores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<u64>,
    /// Memory limit in MiB.
    #[serde(rename = "memoryMB", skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Writable disk size in MiB.
    #[serde(rename = "diskSizeMB", skip_serializing_if = "Option::is_none")]
    pub disk_size_mb: Option<u64>,
    /// Files written after start: path → UTF-8 content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, String>>,
    /// Shell commands run in order after the files; the first failure fails the create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<Vec<String>>,
}

/// A sandbox as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sandbox {
    /// 20 chars of `[a-z0-9]`.
    pub id: String,
    /// Unique among live sandboxes.
    pub name: String,
    /// Template it was created from.
    pub template_id: String,
    /// `booting|running|paused|stopping|killed|error`.
    pub status: String,
    /// User labels.
    pub metadata: BTreeMap<String, String>,
    /// CPU cores.
    pub cpu_count: u32,
    /// Memory limit in MiB.
    #[serde(rename = "memoryMB")]
    pub memory_mb: u64,
    /// Disk size in MiB.
    #[serde(rename = "diskSizeMB")]
    pub disk_size_mb: u64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When the sandbox became ready.
    pub started_at: Option<DateTime<Utc>>,
    /// Auto-kill time, null when disabled.
    pub end_at: Option<DateTime<Utc>>,
    /// Error or death reason, else null.
    pub error: Option<String>,
}

/// `GET /v1/sandboxes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SandboxList {
    /// Newest first.
    pub items: Vec<Sandbox>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /v1/sandboxes/{id}/timeout`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetTimeoutRequest {
    /// Seconds from now until auto-kill; 0 disables it.
    pub timeout_seconds: u64,
}

/// `POST /v1/sandboxes/{id}/exec`: give `command` (run by `/bin/bash -l -c`) or `cmd` + `args`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecRequest {
    /// A shell command line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A program to run directly (looked up in PATH).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// Arguments of `cmd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Working directory (relative to `/home/user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Extra environment for this process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envs: Option<BTreeMap<String, String>>,
    /// User to run as (default `user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Kill the process after this many ms (default 60000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Data written to the process's stdin, then closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Stream the output as server-sent events (`stdout`, `stderr`, then `exit`) instead of
    /// waiting for the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

/// Result of `exec`. A non-zero exit is still a 200.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecResponse {
    /// Standard output (UTF-8, invalid bytes replaced).
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code; -1 when killed by a signal.
    pub exit_code: i32,
    /// Wall time of the process in ms.
    pub duration_ms: u64,
    /// True when the process was killed because `timeoutMs` expired.
    pub timed_out: bool,
    /// True when output beyond the cap was dropped.
    pub truncated: bool,
}

/// One line of a sandbox's log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// When.
    pub timestamp: DateTime<Utc>,
    /// `lifecycle` event kind or `setup`.
    pub kind: String,
    /// Text.
    pub message: String,
}

/// `GET /v1/sandboxes/{id}/logs`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogsResponse {
    /// Oldest first.
    pub logs: Vec<LogEntry>,
}
