//! Sandbox lifecycle: create, list, get, delete, timeout, logs.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cove_api::{
    CreateSandboxRequest, ErrorBody, LogEntry, LogsResponse, Sandbox, SandboxList,
    SetTimeoutRequest,
};
use cove_core::CreateSandbox;
use cove_store::{SandboxFilter, SandboxRecord};
use cove_types::SandboxState;

pub(crate) fn to_api(r: SandboxRecord) -> Sandbox {
    Sandbox {
        id: r.id,
        name: r.name,
        template_id: r.template_id,
        status: r.state.as_str().to_string(),
        metadata: r.metadata,
        cpu_count: r.cpu_count,
        memory_mb: r.memory_mb,
        disk_size_mb: r.disk_mb,
        created_at: r.created_at,
        started_at: r.started_at,
        end_at: r.end_at,
        error: r.error,
    }
}

/// Create a sandbox.
#[utoipa::path(post, path = "/v1/sandboxes", tag = "sandboxes", request_body = CreateSandboxRequest,
    responses((status = 201, body = Sandbox), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn create(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<CreateSandboxRequest>,
) -> ApiResult<(StatusCode, Json<Sandbox>)> {
    let rec = st
        .sandboxes
        .create(CreateSandbox {
            template_id: req.template_id,
            name: req.name,
            timeout_secs: req.timeout_seconds,
            metadata: req.metadata.unwrap_or_default(),
            envs: req.envs.unwrap_or_default(),
            cpu_count: req.cpu_count,
            memory_mb: req.memory_mb,
            disk_mb: req.disk_size_mb,
            files: req
                .files
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect(),
            setup: req.setup.unwrap_or_default(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(to_api(rec))))
}

/// Parses the list query: `status` (repeatable or comma-separated), `metadata[key]=value`,
/// `templateId`, `limit` (1..100, default 50), `cursor`.
fn parse_list_query(pairs: Vec<(String, String)>) -> ApiResult<SandboxFilter> {
    let mut f = SandboxFilter {
        limit: 50,
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "status" | "state" => {
                for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let st: SandboxState = s
                        .parse()
                        .map_err(|e: cove_types::UnknownState| ApiError::invalid(e.to_string()))?;
                    if !f.states.contains(&st) {
                        f.states.push(st);
                    }
                }
            }
            "templateId" => f.template_id = Some(v),
            "cursor" => f.cursor = Some(v).filter(|c| !c.is_empty()),
            "limit" => {
                let n: u32 = v.parse().map_err(|_| {
                    ApiError::invalid(format!("limit must be an integer 1..100 (got {v:?})"))
                })?;
                if !(1..=100).contains(&n) {
                    return Err(ApiError::invalid(format!(
                        "limit must be between 1 and 100 (got {n})"
                    )));
                }
                f.limit = n;
            }
            _ => {
                if let Some(key) = k
                    .strip_prefix("metadata[")
                    .and_then(|r| r.strip_suffix(']'))
                {
                    if key.is_empty() {
                        return Err(ApiError::invalid(
                            "metadata filter needs a key: metadata[key]=value",
                        ));
                    }
                    f.metadata.insert(key.to_string(), v);
                } else {
                    return Err(ApiError::invalid(format!(
                        "unknown query parameter {k:?} (expected status, metadata[key], templateId, limit, cursor)"
                    )));
                }
            }
        }
    }
    Ok(f)
}

/// List sandboxes, newest first.
#[utoipa::path(get, path = "/v1/sandboxes", tag = "sandboxes",
    params(("status" = Option<String>, Query, description = "booting|running|paused|stopping|killed|error; repeatable or comma-separated"),
           ("metadata[key]" = Option<String>, Query, description = "metadata filter, repeatable"),
           ("templateId" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "1..100, default 50"),
           ("cursor" = Option<String>, Query)),
    responses((status = 200, body = SandboxList), (status = 400, body = ErrorBody)))]
pub(crate) async fn list(
    State(st): State<AppState>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Json<SandboxList>> {
    let filter = parse_list_query(pairs)?;
    let page = st.sandboxes.list(&filter).await?;
    Ok(Json(SandboxList {
        items: page.items.into_iter().map(to_api).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get a sandbox by id or name.
#[utoipa::path(get, path = "/v1/sandboxes/{id}", tag = "sandboxes", params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Sandbox), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Sandbox>> {
    Ok(Json(to_api(st.sandboxes.get(&id).await?)))
}

/// Kill and delete a sandbox (idempotent).
#[utoipa::path(delete, path = "/v1/sandboxes/{id}", tag = "sandboxes", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.sandboxes.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset the auto-kill timer.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/timeout", tag = "sandboxes", params(("id" = String, Path)),
    request_body = SetTimeoutRequest,
    responses((status = 200, body = Sandbox), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn set_timeout(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SetTimeoutRequest>,
) -> ApiResult<Json<Sandbox>> {
    Ok(Json(to_api(
        st.sandboxes.set_timeout(&id, req.timeout_seconds).await?,
    )))
}

/// The sandbox's lifecycle log and setup output.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/logs", tag = "sandboxes", params(("id" = String, Path)),
    responses((status = 200, body = LogsResponse), (status = 404, body = ErrorBody)))]
pub(crate) async fn logs(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<LogsResponse>> {
    let events = st.sandboxes.logs(&id).await?;
    Ok(Json(LogsResponse {
        logs: events
            .into_iter()
            .map(|e| LogEntry {
                timestamp: e.at,
                kind: e.kind,
                message: e.message,
            })
            .collect(),
    }))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sandboxes", post(create).get(list))
        .route("/v1/sandboxes/{id}", get(get_one).delete(delete))
        .route("/v1/sandboxes/{id}/timeout", post(set_timeout))
        .route("/v1/sandboxes/{id}/logs", get(logs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn list_query() {
        let f = parse_list_query(q(&[
            ("status", "running,killed"),
            ("status", "error"),
            ("metadata[team]", "a"),
            ("limit", "10"),
        ]))
        .map_err(|e| format!("{e:?}"))
        .unwrap_or_default();
        assert_eq!(f.states.len(), 3);
        assert_eq!(f.metadata.get("team").map(String::as_str), Some("a"));
        assert_eq!(f.limit, 10);
        assert!(parse_list_query(q(&[("limit", "0")])).is_err());
        assert!(parse_list_query(q(&[("limit", "101")])).is_err());
        assert!(parse_list_query(q(&[("status", "nope")])).is_err());
        assert!(parse_list_query(q(&[("bogus", "1")])).is_err());
    }
}
