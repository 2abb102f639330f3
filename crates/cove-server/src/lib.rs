//! The HTTP surface of Cove and its composition root: configuration, the axum router for `/v1`
//! and `/healthz`, auth, the error mapping, and `serve`, which picks the store and runtime.

mod config;

pub use config::ServeArgs;

/// Runs `cove serve` until SIGINT/SIGTERM.
pub async fn serve_command(args: ServeArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("not yet")
}
