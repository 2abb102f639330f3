//! E2B code-interpreter HTTP handlers: `POST /execute` (NDJSON stream), `/contexts`, `/health`,
//! plus Cove's `GET /languages`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::KernelError;
use super::exec::Emitter;
use super::{ExecuteRequest, Kernels};
use crate::connect::{read_body, ChannelBody};
use crate::error::HttpError;
use crate::state::Shared;

/// The port E2B SDKs address the code interpreter on.
pub const TCP_PORT: u16 = 49999;
const MAX_BODY: usize = 16 * 1024 * 1024;

type St = Arc<Kernels>;

/// The handlers, with their own state so they can be nested into any router.
pub fn router<S: Clone + Send + Sync + 'static>(kernels: Arc<Kernels>) -> Router<S> {
    Router::new()
        .route("/execute", post(execute))
        .route("/contexts", get(list).post(create))
        .route("/contexts/{id}", axum::routing::delete(remove))
        .route("/contexts/{id}/restart", post(restart))
        .route("/languages", get(languages))
        .route("/health", get(health))
        .with_state(kernels)
}

/// Serves the handlers on 127.0.0.1:49999 inside the sandbox, without authentication (E2B's
/// protocol sends no token on `/contexts`). Loopback only: outside callers come in through the
/// agent socket, which the control plane guards. A failed bind (the port taken by user code) only
/// disables this listener.
pub fn spawn_tcp(app: &Shared) {
    let kernels = Kernels::get(app);
    tokio::spawn(async move {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", TCP_PORT)).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("code interpreter: cannot listen on 127.0.0.1:{TCP_PORT}: {e}");
                return;
            }
        };
        let app: Router = router(kernels)
            .fallback(|| async { HttpError::new(StatusCode::NOT_FOUND, "not found") });
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("code interpreter listener: {e}");
        }
    });
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ExecuteBody {
    code: Option<String>,
    #[serde(alias = "contextId")]
    context_id: Option<String>,
    language: Option<String>,
    #[serde(alias = "envVars", alias = "envs")]
    env_vars: Option<BTreeMap<String, String>>,
    /// Cove extension: interrupt the cell after this long (E2B clients time out on their side).
    #[serde(alias = "timeoutMs")]
    timeout_ms: Option<u64>,
}

async fn parse<T: serde::de::DeserializeOwned + Default>(body: Body) -> Result<T, KernelError> {
    let bytes = read_body(body, MAX_BODY)
        .await
        .map_err(|e| KernelError::BadRequest(e.message))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| KernelError::BadRequest(format!("invalid JSON: {e}")))
}

async fn execute(State(k): State<St>, body: Body) -> Result<Response, KernelError> {
    let b: ExecuteBody = parse(body).await?;
    let code = b
        .code
        .ok_or_else(|| KernelError::BadRequest("code is required".into()))?;
    let req = ExecuteRequest {
        code,
        context_id: b.context_id.filter(|s| !s.is_empty()),
        language: b.language.filter(|s| !s.is_empty()),
        env_vars: b.env_vars.unwrap_or_default(),
        timeout: b.timeout_ms.filter(|t| *t > 0).map(Duration::from_millis),
    };
    let ctx = k.resolve(&req).await?;
    let (tx, body) = ChannelBody::new(64);
    let kernels = k.clone();
    tokio::spawn(async move { kernels.execute(ctx, req, Emitter::new(tx)).await });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::new(body),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateBody {
    language: Option<String>,
    cwd: Option<String>,
}

async fn create(State(k): State<St>, body: Body) -> Result<Response, KernelError> {
    let b: CreateBody = parse(body).await?;
    let info = k.create(b.language.as_deref(), b.cwd.as_deref()).await?;
    Ok(Json(info).into_response())
}

async fn list(State(k): State<St>) -> Response {
    Json(k.list()).into_response()
}

async fn restart(State(k): State<St>, Path(id): Path<String>) -> Result<StatusCode, KernelError> {
    k.restart(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(State(k): State<St>, Path(id): Path<String>) -> Result<StatusCode, KernelError> {
    k.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn languages(State(k): State<St>) -> Response {
    Json(k.languages()).into_response()
}

async fn health() -> &'static str {
    "OK"
}
