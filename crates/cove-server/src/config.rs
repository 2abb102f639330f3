//! Server configuration, loaded in layers: built-in defaults → TOML file (`--config`) → `COVE_*`
//! environment → flags (clap merges env and flags; the file fills what both leave unset). The raw
//! layers become one validated [`ServerConfig`] at boot, so bad config fails before serving.

use anyhow::{bail, Context};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Flags of `cove serve` (each also read from its `COVE_*` environment variable).
#[derive(Debug, Clone, Default, clap::Args)]
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
    /// Optional TOML config file with the same keys (listen, data_dir, system_key, agent_bin, runc,
    /// default_timeout_secs).
    #[arg(long, env = "COVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Path of the static in-sandbox agent binary [default: `cove-agent` beside this binary].
    #[arg(long, env = "COVE_AGENT_BIN")]
    pub agent_bin: Option<PathBuf>,
    /// Path of the OCI runtime binary [default: runc from PATH].
    #[arg(long, env = "COVE_RUNC")]
    pub runc: Option<PathBuf>,
    /// Domain of sandbox hosts: `{port}-{sandboxID}.{domain}` routes to a sandbox port
    /// [default: the listen address, e.g. 127.0.0.1:8089].
    #[arg(long, env = "COVE_DOMAIN")]
    pub domain: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    system_key: Option<String>,
    agent_bin: Option<PathBuf>,
    runc: Option<PathBuf>,
    default_timeout_secs: Option<u64>,
    domain: Option<String>,
}

/// The validated configuration.
#[derive(Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Configured system key, if any.
    pub system_key: Option<String>,
    /// Static agent binary.
    pub agent_bin: PathBuf,
    /// OCI runtime binary.
    pub runc: PathBuf,
    /// Auto-kill timeout of sandboxes created without one.
    pub default_timeout_secs: u64,
    /// Domain of sandbox hosts (`{port}-{id}.{domain}`).
    pub domain: String,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "system_key",
                &self.system_key.as_ref().map(|_| "<redacted>"),
            )
            .field("agent_bin", &self.agent_bin)
            .field("runc", &self.runc)
            .field("default_timeout_secs", &self.default_timeout_secs)
            .field("domain", &self.domain)
            .finish()
    }
}

fn default_agent_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the cove binary")?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    Ok(dir.join("cove-agent"))
}

impl ServerConfig {
    /// Merges the layers and validates the result.
    pub fn load(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("invalid config file {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8089)));
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("/var/lib/cove"));
        let data_dir = if data_dir.is_absolute() {
            data_dir
        } else {
            std::env::current_dir()?.join(data_dir)
        };
        let system_key = args.system_key.clone().or(file.system_key);
        if let Some(k) = &system_key {
            if k.len() < 16 {
                bail!("system key must be at least 16 characters");
            }
        }
        let agent_bin = match args.agent_bin.clone().or(file.agent_bin) {
            Some(p) => p,
            None => default_agent_bin()?,
        };
        if !agent_bin.is_file() {
            bail!(
                "agent binary {} not found (build it with `cargo build`, or pass --agent-bin)",
                agent_bin.display()
            );
        }
        let runc = args
            .runc
            .clone()
            .or(file.runc)
            .unwrap_or_else(|| PathBuf::from("runc"));
        let domain = args
            .domain
            .clone()
            .or(file.domain)
            .unwrap_or_else(|| listen.to_string());
        if domain.is_empty() || domain.contains('/') || domain.contains(char::is_whitespace) {
            bail!("domain must be a host name (optionally with :port), got {domain:?}");
        }
        Ok(Self {
            domain,
            listen,
            data_dir,
            system_key,
            agent_bin,
            runc,
            default_timeout_secs: file.default_timeout_secs.unwrap_or(300),
        })
    }
}
