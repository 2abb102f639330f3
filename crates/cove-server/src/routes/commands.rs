//! Background commands: start, list, status, logs (snapshot or SSE follow), stdin, signal, kill.

use super::exec::command_of_parts;
use super::sse::{sse, SseSource};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cove_api::{
    CommandInfo, CommandList, CommandLogs, ErrorBody, SignalRequest, StartCommandRequest,
    StdinRequest,
};
use cove_core::{parse_signal, CommandLogReader, CommandStatus, ExecSpec, OutputStream};
use serde::Deserialize;

fn info(s: CommandStatus) -> CommandInfo {
    CommandInfo {
        status: s.status().to_string(),
        pid: s.pid,
        tag: s.tag,
        cmd: s.cmd,
        args: s.args,
        exit_code: s.exit_code,
        started_at: s.started_at,
        ended_at: s.ended_at,
    }
}

/// Start a background process; returns at once.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/commands", tag = "commands", params(("id" = String, Path)),
    request_body = StartCommandRequest,
    responses((status = 201, body = CommandInfo), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn start(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StartCommandRequest>,
) -> ApiResult<(StatusCode, Json<CommandInfo>)> {
    let command = command_of_parts(req.command, req.cmd, req.args)?;
    let status = st
        .sandboxes
        .start_command(
            &id,
            ExecSpec {
                command,
                cwd: req.cwd,
                envs: req.envs.unwrap_or_default(),
                user: req.user,
                ..Default::default()
            },
            req.tag,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info(status))))
}

/// List processes.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands", tag = "commands", params(("id" = String, Path)),
    responses((status = 200, body = CommandList)))]
pub(crate) async fn list(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CommandList>> {
    let items = st.sandboxes.list_commands(&id).await?;
    Ok(Json(CommandList {
        items: items.into_iter().map(info).collect(),
    }))
}

/// Status of one process.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands/{pid}", tag = "commands",
    params(("id" = String, Path), ("pid" = u32, Path)),
    responses((status = 200, body = CommandInfo), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    ApiPath((id, pid)): ApiPath<(String, u32)>,
) -> ApiResult<Json<CommandInfo>> {
    Ok(Json(info(st.sandboxes.command_status(&id, pid).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogsQuery {
    follow: Option<bool>,
}

/// Output so far, or with `follow=true` a server-sent event stream (`stdout`/`stderr` events with
/// `{"data":…}`, then `exit` with `{"exitCode":…}`) from the oldest retained output until exit.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/commands/{pid}/logs", tag = "commands",
    params(("id" = String, Path), ("pid" = u32, Path), ("follow" = Option<bool>, Query)),
    responses((status = 200, body = CommandLogs), (status = 404, body = ErrorBody)))]
pub(crate) async fn logs(
    State(st): State<AppState>,
    ApiPath((id, pid)): ApiPath<(String, u32)>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> ApiResult<Response> {
    if q.follow.unwrap_or(false) {
        let reader = st.sandboxes.follow_command(&id, pid).await?;
        return Ok(sse(FollowLogs(reader)));
    }
    let out = st.sandboxes.command_output(&id, pid).await?;
    Ok(Json(CommandLogs {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        truncated: out.truncated,
        status: out.status.status().to_string(),
        exit_code: out.status.exit_code,
    })
    .into_response())
}

/// Write to stdin (optionally closing it).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/commands/{pid}/stdin", tag = "commands",
    params(("id" = String, Path), ("pid" = u32, Path)), request_body = StdinRequest,
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn stdin(
    State(st): State<AppState>,
    ApiPath((id, pid)): ApiPath<(String, u32)>,
    ApiJson(req): ApiJson<StdinRequest>,
) -> ApiResult<StatusCode> {
    st.sandboxes
        .command_stdin(&id, pid, req.data.into_bytes(), req.close)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send SIGTERM or SIGKILL to the process group.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/commands/{pid}/signal", tag = "commands",
    params(("id" = String, Path), ("pid" = u32, Path)), request_body = SignalRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn signal(
    State(st): State<AppState>,
    ApiPath((id, pid)): ApiPath<(String, u32)>,
    ApiJson(req): ApiJson<SignalRequest>,
) -> ApiResult<StatusCode> {
    let sig = parse_signal(&req.signal).map_err(ApiError::from)?;
    st.sandboxes.command_signal(&id, pid, sig).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Kill a process (SIGKILL).
#[utoipa::path(delete, path = "/v1/sandboxes/{id}/commands/{pid}", tag = "commands",
    params(("id" = String, Path), ("pid" = u32, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn kill(
    State(st): State<AppState>,
    ApiPath((id, pid)): ApiPath<(String, u32)>,
) -> ApiResult<StatusCode> {
    let sig = parse_signal("SIGKILL").map_err(ApiError::from)?;
    st.sandboxes.command_signal(&id, pid, sig).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A command's output as SSE: `stdout`/`stderr` chunks, then one `exit`.
struct FollowLogs(CommandLogReader);

impl SseSource for FollowLogs {
    async fn next_event(&mut self) -> (&'static str, serde_json::Value) {
        match self.0.next().await {
            Some(chunk) => {
                let name = match chunk.stream {
                    OutputStream::Stdout => "stdout",
                    OutputStream::Stderr => "stderr",
                };
                (
                    name,
                    serde_json::json!({"data": String::from_utf8_lossy(&chunk.data)}),
                )
            }
            None => (
                "exit",
                serde_json::json!({"exitCode": self.0.status().exit_code}),
            ),
        }
    }

    fn is_last(name: &str) -> bool {
        name == "exit"
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sandboxes/{id}/commands", post(start).get(list))
        .route(
            "/v1/sandboxes/{id}/commands/{pid}",
            get(get_one).delete(kill),
        )
        .route("/v1/sandboxes/{id}/commands/{pid}/logs", get(logs))
        .route("/v1/sandboxes/{id}/commands/{pid}/stdin", post(stdin))
        .route("/v1/sandboxes/{id}/commands/{pid}/signal", post(signal))
}
