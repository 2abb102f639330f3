//! API keys: issue (secret shown once) and list.

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use cove_api::{ApiKey, ApiKeyList, CreateApiKeyRequest, CreatedApiKey, ErrorBody};
use cove_store::ApiKeyRecord;

fn to_api(r: ApiKeyRecord) -> ApiKey {
    ApiKey {
        id: r.id,
        name: r.name,
        prefix: r.prefix,
        is_system: r.is_system,
        created_at: r.created_at,
    }
}

/// Issue a key; the secret is in this response only.
#[utoipa::path(post, path = "/v1/api-keys", tag = "keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody)))]
pub(crate) async fn create(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let e2b = match req.format.as_deref() {
        None | Some("cove") => false,
        Some("e2b") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "format must be 'cove' or 'e2b' (got {other:?})"
            )))
        }
    };
    let (rec, secret) = st.keys.create(&req.name, e2b).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: to_api(rec),
            secret,
        }),
    ))
}

/// List keys (without secrets).
#[utoipa::path(get, path = "/v1/api-keys", tag = "keys", responses((status = 200, body = ApiKeyList)))]
pub(crate) async fn list(State(st): State<AppState>) -> ApiResult<Json<ApiKeyList>> {
    Ok(Json(ApiKeyList {
        items: st.keys.list().await?.into_iter().map(to_api).collect(),
    }))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/api-keys", post(create).get(list))
}
