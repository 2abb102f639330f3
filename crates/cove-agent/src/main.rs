//! cove-agent: the in-sandbox agent of Cove. It runs as PID 1 inside every sandbox, reaps zombies,
//! and serves the E2B envd protocol (Connect RPCs for processes and the filesystem, plus envd's
//! plain HTTP endpoints) over HTTP/1.1 on a Unix socket that the control plane connects to.

mod auth;
mod connect;
mod error;
mod files;
mod fsinfo;
mod kernel;
mod metrics;
mod paths;
mod process;
mod rpc_fs;
mod rpc_process;
mod state;
mod tunnel;
mod users;
mod watch;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tokio::signal::unix::{signal, SignalKind};

use crate::error::HttpError;
use crate::state::{AppState, Shared};

#[derive(Debug, thiserror::Error)]
enum StartupError {
    #[error("usage: cove-agent [--socket PATH]")]
    Usage,
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

fn parse_args() -> Result<PathBuf, StartupError> {
    let mut socket = PathBuf::from(format!(
        "{}/{}",
        cove_types::layout::SANDBOX_AGENT_SOCKET_DIR,
        cove_types::layout::AGENT_SOCKET_NAME
    ));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--socket" => socket = args.next().ok_or(StartupError::Usage)?.into(),
            s if s.starts_with("--socket=") => socket = s["--socket=".len()..].into(),
            "--version" => {
                println!(
                    "cove-agent {} (envd {})",
                    env!("CARGO_PKG_VERSION"),
                    cove_proto::ENVD_VERSION
                );
                std::process::exit(0);
            }
            _ => return Err(StartupError::Usage),
        }
    }
    Ok(socket)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct InitRequest {
    env_vars: Option<BTreeMap<String, String>>,
    access_token: Option<String>,
    default_user: Option<String>,
    default_workdir: Option<String>,
}

async fn init(State(st): State<Shared>, body: Body) -> Result<StatusCode, HttpError> {
    let bytes = connect::read_body(body, 1024 * 1024)
        .await
        .map_err(|e| HttpError::bad_request(e.message))?;
    let req: InitRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        InitRequest::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| HttpError::bad_request(format!("invalid init request: {e}")))?
    };
    st.update_config(|c| {
        if let Some(env) = req.env_vars {
            c.env_vars.extend(env);
        }
        if let Some(token) = req.access_token {
            c.access_token = (!token.is_empty()).then_some(token);
        }
        if let Some(user) = req.default_user.filter(|u| !u.is_empty()) {
            c.default_user = user;
        }
        if let Some(dir) = req.default_workdir.filter(|d| !d.is_empty()) {
            c.default_workdir = Some(paths::normalize(std::path::Path::new(&dir)));
        }
    });
    let cfg = st.config();
    if !users::exists(&cfg.default_user) {
        tracing::warn!(user = %cfg.default_user, "default user does not exist; using root");
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn health() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn envs(State(st): State<Shared>) -> Response {
    axum::Json(st.config().env_vars).into_response()
}

async fn metrics_handler() -> Response {
    axum::Json(metrics::collect().await).into_response()
}

async fn fallback() -> Response {
    HttpError::new(StatusCode::NOT_FOUND, "not found").into_response()
}

fn router(st: Shared) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/init", post(init))
        .route("/envs", get(envs))
        .route("/metrics", get(metrics_handler))
        .route("/files", get(files::download).post(files::upload))
        .route("/process.Process/{method}", post(rpc_process::handle))
        .route("/filesystem.Filesystem/{method}", post(rpc_fs::handle))
        .nest("/code", kernel::router(kernel::Kernels::get(&st)))
        .route("/_cove/tunnel", get(tunnel::handle))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            st.clone(),
            auth::middleware,
        ))
        // Uploads stream to disk and RPC bodies are bounded by hand, so axum's 2 MiB cap only hurts.
        .layer(DefaultBodyLimit::disable())
        .with_state(st)
}

/// Collects exit statuses: on every SIGCHLD and, as a safety net against coalesced signals, once a
/// second.
fn spawn_reaper(st: Shared) -> Result<(), StartupError> {
    let mut sigchld =
        signal(SignalKind::child()).map_err(|e| StartupError::Io("SIGCHLD handler".into(), e))?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = sigchld.recv() => {}
                _ = tick.tick() => {}
            }
            st.procs.reap();
        }
    });
    Ok(())
}

async fn run() -> Result<(), StartupError> {
    let socket = parse_args()?;
    let st = AppState::new();
    spawn_reaper(st.clone())?;
    kernel::spawn_tcp(&st);
    let mut sigterm = signal(SignalKind::terminate())
        .map_err(|e| StartupError::Io("SIGTERM handler".into(), e))?;
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(|e| StartupError::Io("SIGINT handler".into(), e))?;

    if let Some(dir) = socket.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // A socket left over from a previous run would make bind fail with EADDRINUSE.
    match std::fs::remove_file(&socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StartupError::Io(socket.display().to_string(), e)),
    }
    let listener = tokio::net::UnixListener::bind(&socket)
        .map_err(|e| StartupError::Io(socket.display().to_string(), e))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| StartupError::Io(socket.display().to_string(), e))?;
    tracing::info!(
        socket = %socket.display(),
        pid = std::process::id(),
        envd_version = cove_proto::ENVD_VERSION,
        "cove-agent listening"
    );

    let server = axum::serve(listener, router(st));
    tokio::select! {
        r = server => {
            if let Err(e) = r {
                tracing::error!("server error: {e}");
            }
        }
        _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = sigint.recv() => tracing::info!("SIGINT: shutting down"),
    }
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cove-agent: tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match rt.block_on(run()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cove-agent: {e}");
            if matches!(e, StartupError::Usage) {
                2
            } else {
                1
            }
        }
    };
    // Skip waiting for blocked reader threads or lingering tasks: PID 1 must exit promptly.
    rt.shutdown_timeout(Duration::from_millis(100));
    std::process::exit(code);
}
