//! Files: listing/reading as JSON, raw streaming read/write/delete, stat, download, batch write,
//! mkdir and rename. Every operation is one agent call; paths resolve inside the sandbox.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use cove_api::{
    DirListing, ErrorBody, FileContent, FileEntry, MkdirRequest, RenameRequest, WriteFilesRequest,
    WriteFilesResponse,
};
use cove_core::{DirEntry, EntryKind};
use cove_types::ErrorCode;
use futures_util::TryStreamExt;
use serde::Deserialize;

/// Largest file returned inline by `GET /files` (JSON); bigger ones go through `/file` or `/download`.
const INLINE_LIMIT: usize = 10 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathQuery {
    path: Option<String>,
}

impl PathQuery {
    fn required(self) -> ApiResult<String> {
        self.path
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ApiError::invalid("missing query parameter 'path'"))
    }
}

fn entry(e: DirEntry) -> FileEntry {
    FileEntry {
        name: e.name,
        path: e.path,
        kind: e.kind.as_str().to_string(),
        size: e.size,
        mode: e.mode,
        modified_time: e.modified,
        symlink_target: e.symlink_target,
    }
}

/// A directory listing or a file's content.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/files", tag = "files",
    params(("id" = String, Path), ("path" = String, Query, description = "absolute or relative to /home/user")),
    responses((status = 200, description = "DirListing for a directory, FileContent for a file", body = DirListing),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub(crate) async fn list_or_read(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Response> {
    let path = q.required()?;
    let info = st.sandboxes.stat(&id, &path).await?;
    if info.kind == EntryKind::Dir {
        let entries = st.sandboxes.list_dir(&id, &info.path).await?;
        return Ok(Json(DirListing {
            path: info.path,
            entries: entries.into_iter().map(entry).collect(),
        })
        .into_response());
    }
    if info.size as usize > INLINE_LIMIT {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "{} is {} bytes, more than the {INLINE_LIMIT}-byte inline limit; use GET /v1/sandboxes/{{id}}/file or /download",
                info.path, info.size
            ),
        ));
    }
    let bytes = st
        .sandboxes
        .read_file(&id, &info.path)
        .await?
        .collect(INLINE_LIMIT)
        .await
        .map_err(|e| ApiError::new(ErrorCode::PayloadTooLarge, e.to_string()))?;
    let (content, encoding) = match String::from_utf8(bytes) {
        Ok(s) => (s, None),
        Err(e) => (
            base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
            Some("base64".to_string()),
        ),
    };
    Ok(Json(FileContent {
        path: info.path,
        content,
        encoding,
    })
    .into_response())
}

async fn stream_file(st: &AppState, id: &str, path: &str, attachment: bool) -> ApiResult<Response> {
    let info = st.sandboxes.stat(id, path).await?;
    if info.kind == EntryKind::Dir {
        return Err(ApiError::invalid(format!("{} is a directory", info.path)));
    }
    let file = st.sandboxes.read_file(id, &info.path).await?;
    let len = file.content_length;
    let body = Body::from_stream(
        file.into_stream()
            .map_err(|e| std::io::Error::other(e.to_string())),
    );
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(len) = len {
        if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
            h.insert(header::CONTENT_LENGTH, v);
        }
    }
    if attachment {
        let name: String = info
            .name
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

/// Raw file bytes (streamed).
#[utoipa::path(get, path = "/v1/sandboxes/{id}/file", tag = "files", params(("id" = String, Path), ("path" = String, Query)),
    responses((status = 200, description = "raw bytes", content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
pub(crate) async fn read_raw(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Response> {
    let path = q.required()?;
    stream_file(&st, &id, &path, false).await
}

/// Download a file as an attachment (streamed).
#[utoipa::path(get, path = "/v1/sandboxes/{id}/download", tag = "files", params(("id" = String, Path), ("path" = String, Query)),
    responses((status = 200, description = "raw bytes", content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
pub(crate) async fn download(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Response> {
    let path = q.required()?;
    stream_file(&st, &id, &path, true).await
}

/// Write a file from the raw request body (streamed; parents created).
#[utoipa::path(put, path = "/v1/sandboxes/{id}/file", tag = "files", params(("id" = String, Path), ("path" = String, Query)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = FileEntry), (status = 400, body = ErrorBody)))]
pub(crate) async fn write_raw(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
    body: Body,
) -> ApiResult<Json<FileEntry>> {
    let path = q.required()?;
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    Ok(Json(entry(
        st.sandboxes.write_file(&id, &path, stream).await?,
    )))
}

/// Delete a file or directory (recursively).
#[utoipa::path(delete, path = "/v1/sandboxes/{id}/file", tag = "files", params(("id" = String, Path), ("path" = String, Query)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_path(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<StatusCode> {
    let path = q.required()?;
    st.sandboxes.remove(&id, &path).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stat a path.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/stat", tag = "files", params(("id" = String, Path), ("path" = String, Query)),
    responses((status = 200, body = FileEntry), (status = 404, body = ErrorBody)))]
pub(crate) async fn stat(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Json<FileEntry>> {
    let path = q.required()?;
    Ok(Json(entry(st.sandboxes.stat(&id, &path).await?)))
}

/// Write several files.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/files", tag = "files", params(("id" = String, Path)),
    request_body = WriteFilesRequest,
    responses((status = 200, body = WriteFilesResponse), (status = 400, body = ErrorBody)))]
pub(crate) async fn write_batch(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<WriteFilesRequest>,
) -> ApiResult<Json<WriteFilesResponse>> {
    if req.files.is_empty() {
        return Err(ApiError::invalid("files must not be empty"));
    }
    let mut decoded = Vec::with_capacity(req.files.len());
    for (i, f) in req.files.into_iter().enumerate() {
        let bytes = match f.encoding.as_deref() {
            None | Some("utf8") | Some("utf-8") => f.content.into_bytes(),
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(f.content.as_bytes())
                .map_err(|e| {
                    ApiError::invalid(format!("files[{i}].content: invalid base64: {e}"))
                })?,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "files[{i}].encoding must be 'utf8' or 'base64' (got {other:?})"
                )))
            }
        };
        decoded.push((f.path, bytes));
    }
    let mut out = Vec::with_capacity(decoded.len());
    for (path, bytes) in decoded {
        let b = bytes::Bytes::from(bytes);
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(b) });
        out.push(entry(st.sandboxes.write_file(&id, &path, stream).await?));
    }
    Ok(Json(WriteFilesResponse { files: out }))
}

/// Create a directory (and parents).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/files/mkdir", tag = "files", params(("id" = String, Path)),
    request_body = MkdirRequest, responses((status = 200, body = FileEntry), (status = 409, body = ErrorBody)))]
pub(crate) async fn mkdir(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<MkdirRequest>,
) -> ApiResult<Json<FileEntry>> {
    Ok(Json(entry(st.sandboxes.mkdir(&id, &req.path).await?)))
}

/// Rename or move a path.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/files/rename", tag = "files", params(("id" = String, Path)),
    request_body = RenameRequest, responses((status = 200, body = FileEntry), (status = 404, body = ErrorBody)))]
pub(crate) async fn rename(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<RenameRequest>,
) -> ApiResult<Json<FileEntry>> {
    Ok(Json(entry(
        st.sandboxes.rename(&id, &req.from, &req.to).await?,
    )))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sandboxes/{id}/files",
            get(list_or_read).post(write_batch),
        )
        .route("/v1/sandboxes/{id}/files/mkdir", post(mkdir))
        .route("/v1/sandboxes/{id}/files/rename", post(rename))
        .route(
            "/v1/sandboxes/{id}/file",
            get(read_raw).put(write_raw).delete(delete_path),
        )
        .route("/v1/sandboxes/{id}/stat", get(stat))
        .route("/v1/sandboxes/{id}/download", get(download))
}
