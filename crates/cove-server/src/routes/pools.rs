//! Warm pools per template.

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use cove_api::{ErrorBody, Pool, PoolList, PooledSandbox, PooledSandboxList, SetPoolRequest};
use cove_core::PoolStatus;

fn to_api(p: PoolStatus) -> Pool {
    Pool {
        template_id: p.template_id,
        min_idle: p.settings.min_idle,
        max: p.settings.max,
        idle: p.idle,
        booting: p.booting,
        hits: p.hits,
        misses: p.misses,
    }
}

/// List pools.
#[utoipa::path(get, path = "/v1/pools", tag = "pools", responses((status = 200, body = PoolList)))]
pub(crate) async fn list(State(st): State<AppState>) -> Json<PoolList> {
    Json(PoolList {
        items: st.sandboxes.pools().into_iter().map(to_api).collect(),
    })
}

/// Create or resize the pool of a template (filled in the background).
#[utoipa::path(put, path = "/v1/pools/{template}", tag = "pools", params(("template" = String, Path)),
    request_body = SetPoolRequest,
    responses((status = 200, body = Pool), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn set(
    State(st): State<AppState>,
    ApiPath(template): ApiPath<String>,
    ApiJson(req): ApiJson<SetPoolRequest>,
) -> ApiResult<Json<Pool>> {
    Ok(Json(to_api(
        st.sandboxes
            .set_pool(&template, req.min_idle, req.max)
            .await?,
    )))
}

/// One pool.
#[utoipa::path(get, path = "/v1/pools/{template}", tag = "pools", params(("template" = String, Path)),
    responses((status = 200, body = Pool), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    ApiPath(template): ApiPath<String>,
) -> ApiResult<Json<Pool>> {
    Ok(Json(to_api(st.sandboxes.pool_by_name(&template).await?)))
}

/// Remove a pool and its idle sandboxes.
#[utoipa::path(delete, path = "/v1/pools/{template}", tag = "pools", params(("template" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(st): State<AppState>,
    ApiPath(template): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.sandboxes.delete_pool(&template).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Idle sandboxes of a pool.
#[utoipa::path(get, path = "/v1/pools/{template}/sandboxes", tag = "pools", params(("template" = String, Path)),
    responses((status = 200, body = PooledSandboxList), (status = 404, body = ErrorBody)))]
pub(crate) async fn sandboxes(
    State(st): State<AppState>,
    ApiPath(template): ApiPath<String>,
) -> ApiResult<Json<PooledSandboxList>> {
    let items = st.sandboxes.pool_sandboxes(&template).await?;
    Ok(Json(PooledSandboxList {
        items: items
            .into_iter()
            .map(|s| PooledSandbox {
                id: s.id,
                ready_at: s.ready_at,
            })
            .collect(),
    }))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/pools", get(list))
        .route("/v1/pools/{template}", get(get_one).put(set).delete(delete))
        .route("/v1/pools/{template}/sandboxes", get(sandboxes))
}
