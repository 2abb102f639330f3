//! The code interpreter: `POST /v1/sandboxes/{id}/code-execute` and the context endpoints, each a
//! thin adapter over one `SandboxService` call.

use super::sse::{sse, SseSource};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cove_api::{
    CodeContext, CodeError, CodeExecuteRequest, CodeExecuteResponse, CodeLanguage, CodeResult,
    CreateCodeContextRequest, ErrorBody,
};
use cove_core::{CodeEvent, CodeSpec, CodeStream};
use serde_json::{json, Value};

fn result_json(r: cove_core::CodeResult) -> CodeResult {
    CodeResult {
        is_main_result: r.is_main_result,
        bundle: r.bundle,
    }
}

fn error_json(e: cove_core::CodeError) -> CodeError {
    CodeError {
        name: e.name,
        value: e.value,
        traceback: e.traceback,
    }
}

fn context_json(c: cove_core::CodeContext) -> CodeContext {
    CodeContext {
        id: c.id,
        language: c.language,
        cwd: c.cwd,
    }
}

/// One execution event as an SSE event name and JSON payload; `None` once the stream is over.
impl SseSource for CodeStream {
    fn next_event(&mut self) -> impl std::future::Future<Output = (&'static str, Value)> + Send {
        next_event(self)
    }

    fn is_last(name: &str) -> bool {
        matches!(name, "end" | "error")
    }
}

async fn next_event(stream: &mut CodeStream) -> (&'static str, Value) {
    match stream.next().await {
        Some(CodeEvent::ExecutionCount(n)) => ("executionCount", json!({"executionCount": n})),
        Some(CodeEvent::Stdout(t)) => ("stdout", json!({"text": t})),
        Some(CodeEvent::Stderr(t)) => ("stderr", json!({"text": t})),
        Some(CodeEvent::Result(r)) => (
            "result",
            serde_json::to_value(result_json(r)).unwrap_or(Value::Null),
        ),
        Some(CodeEvent::Error(e)) => (
            "exception",
            serde_json::to_value(error_json(e)).unwrap_or(Value::Null),
        ),
        Some(CodeEvent::End {
            timed_out,
            duration_ms,
        }) => (
            "end",
            json!({"timedOut": timed_out, "durationMs": duration_ms}),
        ),
        Some(CodeEvent::Failed(e)) => (
            "error",
            json!({"code": e.code().as_str(), "message": e.message()}),
        ),
        None => (
            "error",
            json!({"code": "internal", "message": "stream ended early"}),
        ),
    }
}

fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// Run code in a Jupyter kernel. State persists per context; without `contextId` the language's
/// default context is used (created on first use). An exception in the code is a 200 with `error`
/// set. With `"stream": true` or `Accept: text/event-stream` the answer is server-sent events:
/// `executionCount`, `stdout`/`stderr` (`{"text"}`), `result`, `exception` (`{name,value,traceback}`),
/// then `end` (`{timedOut,durationMs}`) or `error` (`{code,message}`). A language without an
/// installed kernel is 409 `failed_precondition`.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/code-execute", tag = "code",
    params(("id" = String, Path)), request_body = CodeExecuteRequest,
    responses((status = 200, body = CodeExecuteResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn execute(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CodeExecuteRequest>,
) -> ApiResult<Response> {
    let stream = req.stream.unwrap_or(false) || wants_sse(&headers);
    let spec = CodeSpec {
        code: req.code,
        language: req.language,
        context_id: req.context_id,
        envs: req.envs.unwrap_or_default(),
        timeout_ms: req.timeout_ms,
    };
    if stream {
        return Ok(sse(st.sandboxes.code_execute_stream(&id, spec).await?));
    }
    let out = st.sandboxes.code_execute(&id, spec).await?;
    Ok(Json(CodeExecuteResponse {
        stdout: out.stdout,
        stderr: out.stderr,
        results: out.results.into_iter().map(result_json).collect(),
        error: out.error.map(error_json),
        execution_count: out.execution_count,
        timed_out: out.timed_out,
        duration_ms: out.duration_ms,
    })
    .into_response())
}

/// Kernels installed in the sandbox (discovered from Jupyter kernelspecs; Python also works with
/// just the `ipykernel` module).
#[utoipa::path(get, path = "/v1/sandboxes/{id}/code-languages", tag = "code",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<CodeLanguage>), (status = 404, body = ErrorBody)))]
pub(crate) async fn languages(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<CodeLanguage>>> {
    let langs = st.sandboxes.code_languages(&id).await?;
    Ok(Json(
        langs
            .into_iter()
            .map(|l| CodeLanguage {
                language: l.language,
                kernel_name: l.kernel_name,
                display_name: l.display_name,
            })
            .collect(),
    ))
}

/// Contexts of the sandbox, including the per-language default ones.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/code-contexts", tag = "code",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<CodeContext>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_contexts(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<CodeContext>>> {
    let ctxs = st.sandboxes.code_contexts(&id).await?;
    Ok(Json(ctxs.into_iter().map(context_json).collect()))
}

/// Create a context (starts its kernel): `{language?, cwd?}`; 201.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/code-contexts", tag = "code",
    params(("id" = String, Path)), request_body = CreateCodeContextRequest,
    responses((status = 201, body = CodeContext), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create_context(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateCodeContextRequest>,
) -> ApiResult<(StatusCode, Json<CodeContext>)> {
    let ctx = st
        .sandboxes
        .code_create_context(&id, req.language.as_deref(), req.cwd.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(context_json(ctx))))
}

/// Restart a context's kernel; its variables and imports are lost. 204.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/code-contexts/{contextId}/restart", tag = "code",
    params(("id" = String, Path), ("contextId" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn restart_context(
    State(st): State<AppState>,
    ApiPath((id, context_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    st.sandboxes.code_restart_context(&id, &context_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a context and stop its kernel. 204; 404 for an unknown context.
#[utoipa::path(delete, path = "/v1/sandboxes/{id}/code-contexts/{contextId}", tag = "code",
    params(("id" = String, Path), ("contextId" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_context(
    State(st): State<AppState>,
    ApiPath((id, context_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    st.sandboxes.code_delete_context(&id, &context_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sandboxes/{id}/code-execute", post(execute))
        .route("/v1/sandboxes/{id}/code-languages", get(languages))
        .route(
            "/v1/sandboxes/{id}/code-contexts",
            get(list_contexts).post(create_context),
        )
        .route(
            "/v1/sandboxes/{id}/code-contexts/{context_id}/restart",
            post(restart_context),
        )
        .route(
            "/v1/sandboxes/{id}/code-contexts/{context_id}",
            axum::routing::delete(delete_context),
        )
}
