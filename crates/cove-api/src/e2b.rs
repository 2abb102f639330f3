//! Wire types of the E2B-compatible control-plane API (`/e2b/v1`), spelled exactly as the official
//! E2B SDKs send and parse them (mixed casing included: `templateID`, `allow_internet_access`,
//! `memoryMB`). Response fields the SDKs read with `d.pop(...)` are required here too; requests
//! reject unknown fields where silently dropping one could change what a caller gets.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The envd version Cove's agent implements; SDKs gate features on it (see the protocol notes).
pub const E2B_ENVD_VERSION: &str = "0.6.13";

/// `clientID` of every sandbox: E2B reports the node a sandbox runs on, Cove has one.
pub const E2B_CLIENT_ID: &str = "cove";

/// Body of every non-2xx response: `code` equals the HTTP status (the JS SDK reads it from the
/// body, not the status line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bErrorBody {
    /// HTTP status.
    pub code: u16,
    /// Human-readable explanation.
    pub message: String,
    /// Machine-readable reason (Cove's snake_case error code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// `POST /sandboxes` and `POST /v2/sandboxes`: both versions' fields (v1 adds `secure`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2bNewSandbox {
    /// Template id, alias, `name:tag`, or `name-vN`.
    #[serde(rename = "templateID")]
    pub template_id: String,
    /// Time to live in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Pause instead of kill on timeout.
    #[serde(rename = "autoPause", skip_serializing_if = "Option::is_none")]
    pub auto_pause: Option<bool>,
    /// Snapshot kind of an auto-pause.
    #[serde(rename = "autoPauseMemory", skip_serializing_if = "Option::is_none")]
    pub auto_pause_memory: Option<bool>,
    /// Resume paused sandboxes on traffic.
    #[serde(rename = "autoResume", skip_serializing_if = "Option::is_none")]
    pub auto_resume: Option<E2bAutoResume>,
    /// v1 only; E2B documents it as ignored (envd traffic is always authenticated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    /// Outbound internet access (snake_case on the wire).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_internet_access: Option<bool>,
    /// Egress and ingress policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<E2bNetworkConfig>,
    /// User labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Sandbox-global environment.
    #[serde(rename = "envVars", skip_serializing_if = "Option::is_none")]
    pub env_vars: Option<BTreeMap<String, String>>,
    /// MCP gateway configuration (free-form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<serde_json::Value>,
    /// Workload identity tokens (free-form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam: Option<serde_json::Value>,
    /// Volumes to mount.
    #[serde(rename = "volumeMounts", skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<E2bVolumeMount>>,
}

/// `autoResume` of a create.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct E2bAutoResume {
    /// Whether traffic resumes a paused sandbox.
    #[serde(default)]
    pub enabled: bool,
}

/// A volume mount.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bVolumeMount {
    /// Volume name.
    pub name: String,
    /// Mount path in the sandbox.
    pub path: String,
}

/// `network` of a create. Every field is modelled so that none is dropped unseen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct E2bNetworkConfig {
    /// Whether sandbox URLs accept traffic without a traffic access token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_public_traffic: Option<bool>,
    /// Allowed egress destinations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_out: Option<Vec<String>>,
    /// Denied egress destinations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny_out: Option<Vec<String>>,
    /// DNS servers reachable when `allowOut` names domains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_servers: Option<Vec<String>>,
    /// SOCKS5 egress proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_proxy: Option<serde_json::Value>,
    /// Host mask for sandbox requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask_request_host: Option<String>,
    /// Ports served over HTTPS inside the sandbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_ports: Option<Vec<u16>>,
    /// Per-domain outbound transform rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<BTreeMap<String, serde_json::Value>>,
}

/// `PUT /sandboxes/{id}/network`: replaces the egress configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2bNetworkUpdate {
    /// Allowed egress destinations.
    #[serde(rename = "allowOut", skip_serializing_if = "Option::is_none")]
    pub allow_out: Option<Vec<String>>,
    /// Denied egress destinations.
    #[serde(rename = "denyOut", skip_serializing_if = "Option::is_none")]
    pub deny_out: Option<Vec<String>>,
    /// Outbound transform rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<BTreeMap<String, serde_json::Value>>,
    /// SOCKS5 egress proxy.
    #[serde(rename = "egressProxy", skip_serializing_if = "Option::is_none")]
    pub egress_proxy: Option<serde_json::Value>,
    /// DNS servers.
    #[serde(rename = "dnsServers", skip_serializing_if = "Option::is_none")]
    pub dns_servers: Option<Vec<String>>,
    /// Outbound internet access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_internet_access: Option<bool>,
}

/// `POST /sandboxes/{id}/timeout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bTimeoutRequest {
    /// Seconds from now after which the sandbox is killed.
    pub timeout: u64,
}

/// `POST /v2/sandboxes/{id}/connect` (and the v1 form, where `timeout` is required).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct E2bConnectRequest {
    /// Seconds from now the sandbox must at least live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Resume from memory (only meaningful for paused sandboxes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<bool>,
}

/// `POST /sandboxes/{id}/resume` (legacy).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct E2bResumeRequest {
    /// Time to live in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Pause instead of kill on timeout.
    #[serde(rename = "autoPause", skip_serializing_if = "Option::is_none")]
    pub auto_pause: Option<bool>,
    /// Resume from memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<bool>,
}

/// `POST /sandboxes/{id}/refreshes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct E2bRefreshRequest {
    /// Seconds the sandbox must at least live from now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
}

/// `lifecycle` of a sandbox detail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct E2bLifecycle {
    /// Whether traffic resumes a paused sandbox.
    pub auto_resume: bool,
    /// `kill` or `pause`.
    pub on_timeout: String,
}

/// A sandbox as create, connect, resume and get return it: E2B's `Sandbox` and `SandboxDetail`
/// models merged, so every SDK version finds the keys it requires in each of these answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bSandbox {
    /// Template id.
    #[serde(rename = "templateID")]
    pub template_id: String,
    /// Template name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Sandbox id.
    #[serde(rename = "sandboxID")]
    pub sandbox_id: String,
    /// Node id (constant).
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// Agent protocol version.
    #[serde(rename = "envdVersion")]
    pub envd_version: String,
    /// Token the agent requires in `X-Access-Token`.
    #[serde(rename = "envdAccessToken")]
    pub envd_access_token: String,
    /// Token for sandbox URLs when public traffic is off (never issued by Cove).
    #[serde(rename = "trafficAccessToken")]
    pub traffic_access_token: Option<String>,
    /// Domain of sandbox hosts (`{port}-{id}.{domain}`).
    pub domain: Option<String>,
    /// When the sandbox started.
    #[serde(rename = "startedAt")]
    pub started_at: DateTime<Utc>,
    /// When it will be killed.
    #[serde(rename = "endAt")]
    pub end_at: DateTime<Utc>,
    /// CPU cores.
    #[serde(rename = "cpuCount")]
    pub cpu_count: u32,
    /// Memory limit in MiB.
    #[serde(rename = "memoryMB")]
    pub memory_mb: u64,
    /// Writable disk size in MiB.
    #[serde(rename = "diskSizeMB")]
    pub disk_size_mb: u64,
    /// `running` or `paused`.
    pub state: String,
    /// User labels.
    pub metadata: BTreeMap<String, String>,
    /// Whether the sandbox can reach the internet (camelCase here, as in E2B's detail model).
    #[serde(rename = "allowInternetAccess")]
    pub allow_internet_access: bool,
    /// What happens at `endAt`.
    pub lifecycle: E2bLifecycle,
}

/// One entry of `GET /v2/sandboxes` and `GET /sandboxes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bListedSandbox {
    /// Template id.
    #[serde(rename = "templateID")]
    pub template_id: String,
    /// Template name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Sandbox id.
    #[serde(rename = "sandboxID")]
    pub sandbox_id: String,
    /// Node id (constant).
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// When the sandbox started.
    #[serde(rename = "startedAt")]
    pub started_at: DateTime<Utc>,
    /// When it will be killed.
    #[serde(rename = "endAt")]
    pub end_at: DateTime<Utc>,
    /// CPU cores.
    #[serde(rename = "cpuCount")]
    pub cpu_count: u32,
    /// Memory limit in MiB.
    #[serde(rename = "memoryMB")]
    pub memory_mb: u64,
    /// Writable disk size in MiB.
    #[serde(rename = "diskSizeMB")]
    pub disk_size_mb: u64,
    /// `running` or `paused`.
    pub state: String,
    /// Agent protocol version.
    #[serde(rename = "envdVersion")]
    pub envd_version: String,
    /// User labels.
    pub metadata: BTreeMap<String, String>,
}

/// One resource-usage sample (`GET /sandboxes/{id}/metrics`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct E2bSandboxMetric {
    /// When it was taken.
    pub timestamp: DateTime<Utc>,
    /// The same, in Unix seconds.
    pub timestamp_unix: i64,
    /// CPU cores.
    pub cpu_count: u32,
    /// CPU use over the sampling window, in percent of the sandbox's cores (0..100).
    pub cpu_used_pct: f64,
    /// Working-set memory in bytes.
    pub mem_used: u64,
    /// Memory limit in bytes.
    pub mem_total: u64,
    /// Page cache in bytes (not measured by Cove: always 0).
    pub mem_cache: u64,
    /// Bytes used on the writable layer.
    pub disk_used: u64,
    /// Size of the writable layer in bytes.
    pub disk_total: u64,
}

/// `GET /sandboxes/metrics?sandbox_ids=…`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bSandboxesWithMetrics {
    /// Latest sample per running sandbox.
    pub sandboxes: BTreeMap<String, E2bSandboxMetric>,
}

/// A plain log line (`GET /sandboxes/{id}/logs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bSandboxLog {
    /// When it was written.
    pub timestamp: DateTime<Utc>,
    /// The line.
    pub line: String,
}

/// A structured log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bSandboxLogEntry {
    /// When it was written.
    pub timestamp: DateTime<Utc>,
    /// The message.
    pub message: String,
    /// `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// Extra fields (`kind` is the lifecycle event kind).
    pub fields: BTreeMap<String, String>,
}

/// `GET /sandboxes/{id}/logs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct E2bSandboxLogs {
    /// Plain lines.
    pub logs: Vec<E2bSandboxLog>,
    /// The same entries, structured.
    pub log_entries: Vec<E2bSandboxLogEntry>,
}

/// `GET /v2/sandboxes/{id}/logs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct E2bSandboxLogsV2 {
    /// Structured entries in the requested direction.
    pub logs: Vec<E2bSandboxLogEntry>,
}
