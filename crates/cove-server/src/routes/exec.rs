//! `POST /v1/sandboxes/{id}/exec`: run a command to completion.

use super::sse::{sse, SseSource};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use cove_api::{ErrorBody, ExecRequest, ExecResponse, EXEC_OUTPUT_CAP_BYTES};
use cove_core::{ExecCommand, ExecEvent, ExecSpec, ExecStream};
use serde_json::json;

/// `command` (shell line) or `cmd` + `args`, exactly one of them.
pub(crate) fn command_of_parts(
    command: Option<String>,
    cmd: Option<String>,
    args: Option<Vec<String>>,
) -> ApiResult<ExecCommand> {
    match (command, cmd) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "give either 'command' (a shell line) or 'cmd' + 'args', not both",
        )),
        (Some(line), None) => {
            if args.is_some() {
                return Err(ApiError::invalid(
                    "'args' goes with 'cmd', not with 'command'",
                ));
            }
            Ok(ExecCommand::Shell(line))
        }
        (None, Some(cmd)) => Ok(ExecCommand::Argv {
            cmd,
            args: args.unwrap_or_default(),
        }),
        (None, None) => Err(ApiError::invalid(
            "missing command: give 'command' (run by /bin/bash -l -c) or 'cmd' + 'args'",
        )),
    }
}

/// Maps one exec event to an SSE event name and JSON payload.
impl SseSource for ExecStream {
    fn next_event(
        &mut self,
    ) -> impl std::future::Future<Output = (&'static str, serde_json::Value)> + Send {
        stream_next(self)
    }

    fn is_last(name: &str) -> bool {
        matches!(name, "exit" | "error")
    }
}

async fn stream_next(stream: &mut ExecStream) -> (&'static str, serde_json::Value) {
    match stream.next().await {
        Some(ExecEvent::Stdout(b)) => ("stdout", json!({"data": String::from_utf8_lossy(&b)})),
        Some(ExecEvent::Stderr(b)) => ("stderr", json!({"data": String::from_utf8_lossy(&b)})),
        Some(ExecEvent::Exit(e)) => (
            "exit",
            json!({"exitCode": e.exit_code, "durationMs": e.duration_ms, "timedOut": e.timed_out}),
        ),
        Some(ExecEvent::Failed(e)) => (
            "error",
            json!({"code": e.code().as_str(), "message": e.message()}),
        ),
        None => (
            "error",
            json!({"code": "internal", "message": "stream ended early"}),
        ),
    }
}

/// Run a command and wait for it. A non-zero exit is still a 200. With `"stream": true` the answer
/// is a server-sent event stream: `stdout`/`stderr` events (`{"data":…}`), then one `exit` event
/// (`{"exitCode","durationMs","timedOut"}`), or an `error` event.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/exec", tag = "exec", params(("id" = String, Path)),
    request_body = ExecRequest,
    responses((status = 200, body = ExecResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn exec(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ExecRequest>,
) -> ApiResult<Response> {
    let command = command_of_parts(req.command, req.cmd, req.args)?;
    let spec = ExecSpec {
        command,
        cwd: req.cwd,
        envs: req.envs.unwrap_or_default(),
        user: req.user,
        timeout_ms: req.timeout_ms,
        stdin: req.stdin.map(String::into_bytes),
        output_cap: Some(EXEC_OUTPUT_CAP_BYTES),
    };
    if req.stream.unwrap_or(false) {
        let stream = st.sandboxes.exec_stream(&id, spec).await?;
        return Ok(sse(stream));
    }
    let out = st.sandboxes.exec(&id, spec).await?;
    Ok(Json(ExecResponse {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        exit_code: out.exit_code,
        duration_ms: out.duration_ms,
        timed_out: out.timed_out,
        truncated: out.truncated,
    })
    .into_response())
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/sandboxes/{id}/exec", post(exec))
}
