//! `cove serve`: composition root. Chooses SQLite + runc (the embedded default), starts the core,
//! then serves HTTP until SIGINT/SIGTERM. Sandboxes keep running when the server stops; the next
//! start reattaches them.

use crate::config::{ServeArgs, ServerConfig};
use crate::routes;
use crate::state::AppState;
use anyhow::Context;
use cove_core::{CoreConfig, KeyService, SandboxService};
use cove_runtime::{RuncRuntime, RuntimeConfig};
use cove_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

fn init_tracing() {
    let filter = EnvFilter::try_from_env("COVE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down; sandboxes keep running and are reattached on the next start");
}

/// Runs `cove serve` until SIGINT/SIGTERM.
pub async fn serve_command(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    let cfg = ServerConfig::load(&args)?;
    tracing::info!(config = ?cfg, "starting cove");
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;

    let store = Arc::new(
        SqliteStore::open(&cfg.data_dir.join("cove.db"))
            .await
            .context("cannot open the database")?,
    );
    let runtime = Arc::new(
        RuncRuntime::new(RuntimeConfig {
            data_dir: cfg.data_dir.join("runtime"),
            runc_path: cfg.runc.clone(),
        })
        .context("cannot initialise the container runtime")?,
    );
    let sandboxes = SandboxService::start(
        store.clone(),
        runtime,
        CoreConfig {
            templates_dir: cfg.data_dir.join("templates"),
            agent_binary: cfg.agent_bin.clone(),
            boot_timeout: Duration::from_secs(20),
            default_timeout_secs: cfg.default_timeout_secs,
            pools_file: cfg.data_dir.join("pools.json"),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot start the sandbox service: {e}"))?;
    let keys = KeyService::load(store)
        .await
        .map_err(|e| anyhow::anyhow!("cannot load API keys: {e}"))?;
    if let Some(secret) = keys
        .ensure_system_key(cfg.system_key.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the system key: {e}"))?
    {
        // Printed exactly once, on the first start without a configured key; only its hash is kept.
        println!("System API key (shown once, store it now): {secret}");
    }

    let app = routes::router(AppState {
        sandboxes,
        keys,
        domain: cfg.domain.clone(),
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    println!("cove listening on http://{addr}");
    tracing::info!(%addr, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    Ok(())
}
