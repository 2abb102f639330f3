//! Per-sandbox lifecycle calls: get, kill, timeout, connect/resume, refresh, and the E2B features
//! Cove lacks (pause, snapshots, fork, egress updates), which answer a 4xx saying so.

use super::convert::{alive, detail, Aliases};
use super::error::{E2bError, E2bResult};
use super::extract::{E2bJson, E2bPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cove_api::{
    E2bConnectRequest, E2bNetworkUpdate, E2bRefreshRequest, E2bResumeRequest, E2bSandbox,
    E2bTimeoutRequest,
};
use cove_store::SandboxRecord;

/// `refreshes` without a duration keeps the sandbox alive this long (E2B's keep-alive step).
const DEFAULT_REFRESH_SECS: u64 = 15;
/// `connect` without a timeout keeps the sandbox alive at least this long (E2B's default).
const DEFAULT_CONNECT_SECS: u64 = 300;
/// Largest `refreshes` duration E2B accepts.
const MAX_REFRESH_SECS: u64 = 3600;

async fn answer(st: &AppState, rec: SandboxRecord) -> E2bSandbox {
    let alias = Aliases::default().of(st, &rec.template_id).await;
    detail(rec, alias, &st.domain)
}

/// E2B has no "never" timeout: a 0 would mean "expire now" there and "never" on Cove's core.
fn positive_timeout(secs: u64) -> E2bResult<u64> {
    if secs == 0 {
        return Err(E2bError::invalid(
            "timeout must be at least 1 second (use DELETE to kill a sandbox)",
        ));
    }
    Ok(secs)
}

/// `GET /sandboxes/{id}`.
pub(crate) async fn get_one(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
) -> E2bResult<Json<E2bSandbox>> {
    let rec = alive(&st, &id).await?;
    Ok(Json(answer(&st, rec).await))
}

/// `DELETE /sandboxes/{id}`: 204, or 404 when it is already gone (the SDKs' `kill()` → false).
pub(crate) async fn kill(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
) -> E2bResult<StatusCode> {
    let rec = alive(&st, &id).await?;
    st.sandboxes.delete(&rec.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/timeout`: the deadline becomes now + timeout (shorter or longer).
pub(crate) async fn set_timeout(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bJson(req): E2bJson<E2bTimeoutRequest>,
) -> E2bResult<StatusCode> {
    let secs = positive_timeout(req.timeout)?;
    let rec = alive(&st, &id).await?;
    st.sandboxes.set_timeout(&rec.id, secs).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn connect(st: AppState, id: String, timeout: Option<u64>) -> E2bResult<Json<E2bSandbox>> {
    let secs = match timeout {
        Some(t) => positive_timeout(t)?,
        None => DEFAULT_CONNECT_SECS,
    };
    let rec = alive(&st, &id).await?;
    // Nothing is ever paused, so connect never resumes: always 200 "already running".
    let rec = st.sandboxes.extend_timeout(&rec.id, secs).await?;
    Ok(Json(answer(&st, rec).await))
}

/// `POST /v2/sandboxes/{id}/connect`: timeout optional.
pub(crate) async fn connect_v2(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bJson(req): E2bJson<E2bConnectRequest>,
) -> E2bResult<Json<E2bSandbox>> {
    connect(st, id, req.timeout).await
}

/// `POST /sandboxes/{id}/connect`: timeout required.
pub(crate) async fn connect_v1(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bJson(req): E2bJson<E2bConnectRequest>,
) -> E2bResult<Json<E2bSandbox>> {
    let timeout = req
        .timeout
        .ok_or_else(|| E2bError::invalid("timeout is required"))?;
    connect(st, id, Some(timeout)).await
}

/// `POST /sandboxes/{id}/resume` (SDKs 2.0–2.5): only paused sandboxes resume, so a running one is
/// E2B's 409 "already running" (which those SDKs treat as success) and a dead one a 404.
pub(crate) async fn resume(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bJson(req): E2bJson<E2bResumeRequest>,
) -> E2bResult<Json<E2bSandbox>> {
    if req.auto_pause == Some(true) {
        return Err(E2bError::unsupported(
            "autoPause is not supported: Cove cannot pause sandboxes yet",
        ));
    }
    let rec = alive(&st, &id).await?;
    Err(E2bError::new(
        cove_types::ErrorCode::FailedPrecondition,
        format!("sandbox {} is already running", rec.id),
    ))
}

/// `POST /sandboxes/{id}/pause`: Cove's runtime cannot freeze and restore a sandbox yet. Not a 409
/// (the SDKs read that as "already paused" and return false) and not a 503 (retried as busy).
pub(crate) async fn pause(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
) -> E2bResult<StatusCode> {
    let rec = alive(&st, &id).await?;
    Err(E2bError::unsupported(format!(
        "pausing is not supported by Cove: sandbox {} keeps running (kill it, or extend its \
         timeout, instead)",
        rec.id
    )))
}

/// `POST /sandboxes/{id}/refreshes`: keep alive for `duration` seconds, never shortening.
pub(crate) async fn refresh(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bJson(req): E2bJson<E2bRefreshRequest>,
) -> E2bResult<StatusCode> {
    let secs = req.duration.unwrap_or(DEFAULT_REFRESH_SECS);
    if secs > MAX_REFRESH_SECS {
        return Err(E2bError::invalid(format!(
            "duration must be at most {MAX_REFRESH_SECS} seconds (got {secs})"
        )));
    }
    let rec = alive(&st, &id).await?;
    st.sandboxes.extend_timeout(&rec.id, secs).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /sandboxes/{id}/network`: the only configuration Cove has is "no egress", so a request
/// for exactly that succeeds and anything else is refused.
pub(crate) async fn update_network(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
    E2bJson(req): E2bJson<E2bNetworkUpdate>,
) -> E2bResult<StatusCode> {
    alive(&st, &id).await?;
    let non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    if non_empty(&req.allow_out)
        || non_empty(&req.deny_out)
        || non_empty(&req.dns_servers)
        || req.rules.as_ref().is_some_and(|r| !r.is_empty())
        || req.egress_proxy.as_ref().is_some_and(|p| !p.is_null())
        || req.allow_internet_access == Some(true)
    {
        return Err(E2bError::policy(
            "network updates are not supported: Cove sandboxes have no outbound network access",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/snapshots`.
pub(crate) async fn snapshot(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
) -> E2bResult<StatusCode> {
    alive(&st, &id).await?;
    Err(E2bError::unsupported("snapshots are not supported by Cove"))
}

/// `POST /sandboxes/{id}/fork`.
pub(crate) async fn fork(
    State(st): State<AppState>,
    E2bPath(id): E2bPath<String>,
) -> E2bResult<StatusCode> {
    alive(&st, &id).await?;
    Err(E2bError::unsupported("forking is not supported by Cove"))
}

/// `GET /snapshots`: Cove takes none, so the list is truthfully empty.
pub(crate) async fn list_snapshots() -> Json<Vec<serde_json::Value>> {
    Json(Vec::new())
}
