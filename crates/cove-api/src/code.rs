//! Code interpreter wire types: running code in a sandbox's Jupyter kernels
//! (`/v1/sandboxes/{id}/code-*`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `POST /v1/sandboxes/{id}/code-execute`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodeExecuteRequest {
    /// Source code to run.
    pub code: String,
    /// Language of the default context to run in (`python` when neither this nor `contextId` is
    /// given; `js`/`ts` are aliases). Exclusive with `contextId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Context to run in (from `code-contexts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Environment variables set for this execution only (restored afterwards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envs: Option<BTreeMap<String, String>>,
    /// Interrupt the cell after this many ms (default 60000); the context survives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Stream server-sent events instead of waiting (same as `Accept: text/event-stream`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

/// A rich output: a MIME bundle under short keys, as in E2B.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeResult {
    /// The cell's value (`true`) or something it displayed, e.g. a chart (`false`).
    pub is_main_result: bool,
    /// `text`, `html`, `markdown`, `svg`, `png` (base64), `jpeg` (base64), `pdf`, `latex`,
    /// `json`, `javascript`, `data`, `chart`, and `extra` (other MIME types by name).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub bundle: Map<String, Value>,
}

/// The exception a cell raised.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CodeError {
    /// Exception class, e.g. `NameError`.
    pub name: String,
    /// Exception message.
    pub value: String,
    /// Formatted traceback (may contain ANSI colours).
    pub traceback: String,
}

/// Result of `code-execute`. An exception in the code is still a 200 with `error` set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeExecuteResponse {
    /// Everything printed to stdout.
    pub stdout: String,
    /// Everything printed to stderr.
    pub stderr: String,
    /// Rich results in order.
    pub results: Vec<CodeResult>,
    /// The exception, or null.
    pub error: Option<CodeError>,
    /// The kernel's execution counter for this cell.
    pub execution_count: Option<u64>,
    /// Interrupted at `timeoutMs`.
    pub timed_out: bool,
    /// Wall time in ms.
    pub duration_ms: u64,
}

/// A code context: one kernel with its own state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CodeContext {
    /// Context id.
    pub id: String,
    /// Language (`python`, `javascript`, `r`, ...).
    pub language: String,
    /// Working directory of the kernel.
    pub cwd: String,
}

/// `POST /v1/sandboxes/{id}/code-contexts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCodeContextRequest {
    /// Language (default `python`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Working directory (default `/home/user`; relative paths are under it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// A kernel installed in the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeLanguage {
    /// Language.
    pub language: String,
    /// Jupyter kernelspec name.
    pub kernel_name: String,
    /// Human-readable name.
    pub display_name: String,
}
