//! Templates: create (JSON or multipart with uploads), list, get, build log (optionally followed),
//! delete. Builds run in the background; create answers 202 with the template `building`.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cove_api::{
    CreateTemplateRequest, ErrorBody, RecipeFrom, RecipeSpec, RecipeStep, RegistryAuth, Template,
    TemplateList,
};
use cove_core::{
    CopyStep, Credentials, Recipe, RecipeBase, RecipeStep as CoreStep, TemplateInput, TemplateSpec,
    TemplateView,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// Largest JSON create body (Dockerfiles and recipes are small; files go in multipart parts).
const JSON_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) fn to_api(v: TemplateView) -> Template {
    let r = v.record;
    Template {
        id: r.id,
        name: r.name,
        status: r.status,
        kind: v.kind,
        error: r.error,
        cpu_count: r.cpu_count,
        memory_mb: r.memory_mb,
        disk_size_mb: r.disk_mb,
        envs: r.envs,
        user: v.user,
        workdir: v.workdir,
        start: v.start,
        ready: v.ready,
        layers: v.layers,
        created_at: r.created_at,
    }
}

fn recipe(r: RecipeSpec) -> Recipe {
    Recipe {
        from: match r.from {
            RecipeFrom::Template { template } => RecipeBase::Template { template },
            RecipeFrom::Image {
                image,
                insecure_registry,
            } => RecipeBase::Image {
                image,
                insecure_registry: insecure_registry.unwrap_or(false),
            },
            RecipeFrom::Debian { debian, packages } => RecipeBase::Debian { debian, packages },
        },
        steps: r
            .steps
            .into_iter()
            .map(|s| match s {
                RecipeStep::Run(c) => CoreStep::Run(c),
                RecipeStep::Copy(c) => CoreStep::Copy(CopyStep {
                    src: c.src,
                    dest: c.dest,
                }),
                RecipeStep::Env(m) => CoreStep::Env(m),
                RecipeStep::Workdir(w) => CoreStep::Workdir(w),
                RecipeStep::User(u) => CoreStep::User(u),
            })
            .collect(),
        start: r.start,
        ready: r.ready,
    }
}

/// Turns the wire request (plus staged uploads) into the core's spec.
fn to_spec(
    req: CreateTemplateRequest,
    archive: Option<PathBuf>,
    uploads: BTreeMap<String, PathBuf>,
) -> ApiResult<TemplateSpec> {
    let sources = usize::from(req.image.is_some())
        + usize::from(req.recipe.is_some())
        + usize::from(req.dockerfile.is_some())
        + usize::from(archive.is_some());
    if sources != 1 {
        return Err(ApiError::invalid(
            "give exactly one of image, recipe, dockerfile or an uploaded image part",
        ));
    }
    let input = if let Some(reference) = req.image {
        TemplateInput::Image {
            reference,
            insecure: req.insecure_registry.unwrap_or(false),
        }
    } else if let Some(r) = req.recipe {
        TemplateInput::Recipe(recipe(r))
    } else if let Some(d) = req.dockerfile {
        TemplateInput::Dockerfile(d)
    } else if let Some(path) = archive {
        TemplateInput::Archive { path }
    } else {
        return Err(ApiError::invalid("no template source"));
    };
    Ok(TemplateSpec {
        name: req.name,
        input,
        credentials: match req.auth {
            None => Credentials::Anonymous,
            Some(RegistryAuth::Basic { username, password }) => {
                Credentials::Basic { username, password }
            }
            Some(RegistryAuth::Token { token }) => Credentials::Token(token),
        },
        cpu_count: req.cpu_count,
        memory_mb: req.memory_mb,
        disk_mb: req.disk_size_mb,
        envs: req.envs.unwrap_or_default(),
        uploads,
    })
}

fn parse_json(bytes: &[u8]) -> ApiResult<CreateTemplateRequest> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// Reads a multipart body: a `spec` JSON part, an optional `image` part (OCI layout tar) and any
/// other parts as files named by their part name. Parts are streamed to a staging dir.
async fn read_multipart(
    st: &AppState,
    boundary: String,
    body: Body,
) -> ApiResult<(
    CreateTemplateRequest,
    Option<PathBuf>,
    BTreeMap<String, PathBuf>,
)> {
    let dir = st.sandboxes.template_upload_dir()?;
    let res = async {
        let mut mp = multer::Multipart::new(body.into_data_stream(), boundary);
        let mut spec = None;
        let mut archive = None;
        let mut uploads = BTreeMap::new();
        let bad = |e: multer::Error| ApiError::invalid(format!("multipart: {e}"));
        while let Some(mut field) = mp.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_string();
            if name == "spec" {
                let bytes = field.bytes().await.map_err(bad)?;
                spec = Some(parse_json(&bytes)?);
                continue;
            }
            if name.is_empty() || name.contains('\0') || uploads.contains_key(&name) {
                return Err(ApiError::invalid(format!(
                    "multipart: part names must be unique and non-empty ({name:?})"
                )));
            }
            let path = dir.join(format!(
                "part-{}",
                uploads.len() + usize::from(archive.is_some())
            ));
            let mut f = tokio::fs::File::create(&path)
                .await
                .map_err(|e| cove_core::CoreError::internal(format!("staging upload: {e}")))?;
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                f.write_all(&chunk)
                    .await
                    .map_err(|e| cove_core::CoreError::internal(format!("staging upload: {e}")))?;
            }
            f.flush()
                .await
                .map_err(|e| cove_core::CoreError::internal(format!("staging upload: {e}")))?;
            if name == "image" {
                archive = Some(path);
            } else {
                uploads.insert(name, path);
            }
        }
        let spec = spec.ok_or_else(|| ApiError::invalid("multipart: missing the spec part"))?;
        Ok((spec, archive, uploads))
    }
    .await;
    if res.is_err() {
        let _ = tokio::fs::remove_dir_all(&dir).await;
    }
    res
}

/// Create (or rebuild) a template; the build runs in the background.
#[utoipa::path(post, path = "/v1/templates", tag = "templates", request_body = CreateTemplateRequest,
    responses((status = 202, body = Template), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Template>)> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let spec = if ctype.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(&ctype)
            .map_err(|e| ApiError::invalid(format!("multipart: {e}")))?;
        let (req, archive, uploads) = read_multipart(&st, boundary, body).await?;
        let cleanup = archive
            .as_ref()
            .or(uploads.values().next())
            .and_then(|p| p.parent())
            .map(|p| p.to_path_buf());
        match to_spec(req, archive, uploads) {
            Ok(s) => s,
            Err(e) => {
                if let Some(d) = cleanup {
                    let _ = tokio::fs::remove_dir_all(d).await;
                }
                return Err(e);
            }
        }
    } else {
        let bytes = axum::body::to_bytes(body, JSON_LIMIT).await.map_err(|_| {
            ApiError::new(
                cove_types::ErrorCode::PayloadTooLarge,
                "JSON body too large; upload files as multipart parts",
            )
        })?;
        to_spec(parse_json(&bytes)?, None, BTreeMap::new())?
    };
    let v = st.sandboxes.create_template(spec).await?;
    Ok((StatusCode::ACCEPTED, Json(to_api(v))))
}

/// List templates.
#[utoipa::path(get, path = "/v1/templates", tag = "templates", responses((status = 200, body = TemplateList)))]
pub(crate) async fn list(State(st): State<AppState>) -> ApiResult<Json<TemplateList>> {
    Ok(Json(TemplateList {
        items: st
            .sandboxes
            .list_templates()
            .await?
            .into_iter()
            .map(to_api)
            .collect(),
    }))
}

/// Get a template by id or name.
#[utoipa::path(get, path = "/v1/templates/{id}", tag = "templates",
    params(("id" = String, Path, description = "Template id or name")),
    responses((status = 200, body = Template), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Template>> {
    Ok(Json(to_api(st.sandboxes.template_view(&id).await?)))
}

/// Delete a template (409 while live sandboxes use it; `base` cannot be deleted).
#[utoipa::path(delete, path = "/v1/templates/{id}", tag = "templates",
    params(("id" = String, Path, description = "Template id or name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn delete(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.sandboxes.delete_template(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    #[serde(default)]
    follow: bool,
}

/// The build log as text; `?follow=true` streams until the build ends.
#[utoipa::path(get, path = "/v1/templates/{id}/build-log", tag = "templates",
    params(("id" = String, Path, description = "Template id or name"),
           ("follow" = Option<bool>, Query, description = "Stream until the build ends")),
    responses((status = 200, content_type = "text/plain", body = String), (status = 404, body = ErrorBody)))]
pub(crate) async fn build_log(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Response> {
    let stream = st.sandboxes.template_build_log(&id, q.follow).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/templates", post(create).get(list))
        .route("/v1/templates/{id}", get(get_one).delete(delete))
        .route("/v1/templates/{id}/build-log", get(build_log))
}
