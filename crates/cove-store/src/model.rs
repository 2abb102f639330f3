//! Row models. These are storage shapes, not wire shapes: surfaces convert them.

use chrono::{DateTime, Utc};
use cove_types::SandboxState;
use std::collections::BTreeMap;

/// One sandbox, live or dead. Dead sandboxes are kept for listing and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxRecord {
    /// 20 chars of `[a-z0-9]`.
    pub id: String,
    /// Unique among live sandboxes.
    pub name: String,
    /// Template id the sandbox was created from.
    pub template_id: String,
    /// Lifecycle state.
    pub state: SandboxState,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Global env of every process in the sandbox.
    pub envs: BTreeMap<String, String>,
    /// CPU cores.
    pub cpu_count: u32,
    /// Memory limit in MiB.
    pub memory_mb: u64,
    /// Writable layer size in MiB.
    pub disk_mb: u64,
    /// Auto-kill timeout in seconds as last set (0 = never).
    pub timeout_secs: u64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When the agent first answered.
    pub started_at: Option<DateTime<Utc>>,
    /// Auto-kill deadline, `None` when disabled.
    pub end_at: Option<DateTime<Utc>>,
    /// When the sandbox reached a terminal state.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why the sandbox is in `error` (or how it died).
    pub error: Option<String>,
    /// Token the agent requires on every request (`X-Access-Token`).
    pub access_token: String,
    /// Host pid of the sandbox's init (the agent), once known.
    pub pid: Option<u32>,
}

/// Filters for [`crate::Store::list_sandboxes`].
#[derive(Debug, Clone, Default)]
pub struct SandboxFilter {
    /// Any of these states (empty = all).
    pub states: Vec<SandboxState>,
    /// Every pair must be present in the sandbox's metadata.
    pub metadata: BTreeMap<String, String>,
    /// Only this template.
    pub template_id: Option<String>,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    /// Page size (already validated, 1..=100).
    pub limit: u32,
}

/// One page of sandboxes.
#[derive(Debug, Clone)]
pub struct SandboxPage {
    /// The sandboxes, newest first.
    pub items: Vec<SandboxRecord>,
    /// Cursor for the next page, `None` on the last one.
    pub next_cursor: Option<String>,
}

/// One lifecycle event or setup output line.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Monotonic id.
    pub id: i64,
    /// The sandbox it belongs to.
    pub sandbox_id: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Short kind, e.g. `created`, `running`, `setup`, `killed`, `error`.
    pub kind: String,
    /// Human text.
    pub message: String,
}

/// An API key. The secret itself is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// Public identifier.
    pub id: String,
    /// Human label.
    pub name: String,
    /// Lowercase hex SHA-256 of the secret.
    pub hash: String,
    /// First characters of the secret, for display.
    pub prefix: String,
    /// `true` for the system key.
    pub is_system: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A template a sandbox can be created from.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRecord {
    /// Stable id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `building`, `ready` or `error`.
    pub status: String,
    /// Storage-specific description of where its rootfs lives (JSON).
    pub source: String,
    /// Default CPU cores.
    pub cpu_count: u32,
    /// Default memory in MiB.
    pub memory_mb: u64,
    /// Default disk in MiB.
    pub disk_mb: u64,
    /// Default envs.
    pub envs: BTreeMap<String, String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Build error, if any.
    pub error: Option<String>,
}
