//! Server configuration: defaults → TOML file → `COVE_*` env → flags.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `cove serve` (each also read from its `COVE_*` environment variable).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8089].
    #[arg(long, env = "COVE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory (database, templates, sandboxes) [default: /var/lib/cove].
    #[arg(long, env = "COVE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// System API key; generated and printed once at first start when absent.
    #[arg(long, env = "COVE_SYSTEM_KEY", hide_env_values = true)]
    pub system_key: Option<String>,
    /// Optional TOML config file with the same keys (listen, data_dir, system_key, ...).
    #[arg(long, env = "COVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Path of the static in-sandbox agent binary [default: `cove-agent` beside this binary].
    #[arg(long, env = "COVE_AGENT_BIN")]
    pub agent_bin: Option<PathBuf>,
    /// Path of the OCI runtime binary [default: runc from PATH].
    #[arg(long, env = "COVE_RUNC")]
    pub runc: Option<PathBuf>,
}
