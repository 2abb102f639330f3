//! Background commands, interactive shell control messages and git.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `POST /v1/sandboxes/{id}/commands`: start a background process (`command` or `cmd` + `args`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartCommandRequest {
    /// A shell command line (run by `/bin/bash -l -c`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A program to run directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// Arguments of `cmd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Extra environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envs: Option<BTreeMap<String, String>>,
    /// User (default `user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Free-form label, also usable to find the process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A background process.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandInfo {
    /// Process id inside the sandbox.
    pub pid: u32,
    /// Label given at start.
    pub tag: Option<String>,
    /// Program.
    pub cmd: String,
    /// Arguments.
    pub args: Vec<String>,
    /// `running` or `exited`.
    pub status: String,
    /// Exit code once exited (-1 when killed by a signal).
    pub exit_code: Option<i32>,
    /// When it started (null for processes started outside this API).
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}

/// `GET /v1/sandboxes/{id}/commands`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommandList {
    /// Running processes and those that exited (oldest first).
    pub items: Vec<CommandInfo>,
}

/// `GET /v1/sandboxes/{id}/commands/{pid}/logs` without `follow`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandLogs {
    /// Standard output retained so far.
    pub stdout: String,
    /// Standard error retained so far.
    pub stderr: String,
    /// True when older output was dropped (retention is bounded per process).
    pub truncated: bool,
    /// The process's status at the time of the call.
    pub status: String,
    /// Exit code once exited.
    pub exit_code: Option<i32>,
}

/// `POST /v1/sandboxes/{id}/commands/{pid}/stdin`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StdinRequest {
    /// Data to write.
    pub data: String,
    /// Close stdin after writing.
    #[serde(default)]
    pub close: bool,
}

/// `POST /v1/sandboxes/{id}/commands/{pid}/signal`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// `SIGTERM`/`TERM`/`15` or `SIGKILL`/`KILL`/`9`.
    pub signal: String,
}

/// Control message of the shell WebSocket (text frames; binary frames carry terminal bytes).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ShellControl {
    /// Client → server: resize the terminal.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Server → client: the shell exited; the socket closes next.
    Exit {
        /// Exit code (-1 when killed by a signal).
        #[serde(rename = "exitCode")]
        exit_code: i32,
    },
}

/// `POST /v1/sandboxes/{id}/git/clone`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitCloneRequest {
    /// Repository URL (http, https, ssh or git scheme).
    pub url: String,
    /// Destination (default: the repository name under /home/user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Token for HTTP(S) auth; used for this clone only, never stored in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// User name sent with the token (default `x-access-token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Branch or tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Shallow clone depth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
}

/// Result of a clone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GitCloneResponse {
    /// Absolute path of the working tree.
    pub path: String,
    /// Checked-out branch.
    pub branch: String,
}
