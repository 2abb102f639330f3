//! `POST /v1/sandboxes/{id}/git/clone`.

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use cove_api::{ErrorBody, GitCloneRequest, GitCloneResponse};
use cove_core::GitClone;

/// Clone a repository into the sandbox (a token is used for this clone only).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/git/clone", tag = "git", params(("id" = String, Path)),
    request_body = GitCloneRequest,
    responses((status = 200, body = GitCloneResponse), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn clone(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<GitCloneRequest>,
) -> ApiResult<Json<GitCloneResponse>> {
    let done = st
        .sandboxes
        .git_clone(
            &id,
            GitClone {
                url: req.url,
                path: req.path,
                token: req.token,
                username: req.username,
                branch: req.branch,
                depth: req.depth,
                user: None,
            },
        )
        .await?;
    Ok(Json(GitCloneResponse {
        path: done.path,
        branch: done.branch,
    }))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/sandboxes/{id}/git/clone", post(clone))
}
