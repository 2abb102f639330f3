//! `POST /v1/sandboxes/{id}/exec`: run a command to completion.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use cove_api::{ErrorBody, ExecRequest, ExecResponse, EXEC_OUTPUT_CAP_BYTES};
use cove_core::{ExecCommand, ExecSpec};

fn command_of(req: &ExecRequest) -> ApiResult<ExecCommand> {
    match (&req.command, &req.cmd) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "give either 'command' (a shell line) or 'cmd' + 'args', not both",
        )),
        (Some(line), None) => {
            if req.args.is_some() {
                return Err(ApiError::invalid(
                    "'args' goes with 'cmd', not with 'command'",
                ));
            }
            Ok(ExecCommand::Shell(line.clone()))
        }
        (None, Some(cmd)) => Ok(ExecCommand::Argv {
            cmd: cmd.clone(),
            args: req.args.clone().unwrap_or_default(),
        }),
        (None, None) => Err(ApiError::invalid(
            "missing command: give 'command' (run by /bin/bash -l -c) or 'cmd' + 'args'",
        )),
    }
}

/// Run a command and wait for it. A non-zero exit is still a 200.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/exec", tag = "exec", params(("id" = String, Path)),
    request_body = ExecRequest,
    responses((status = 200, body = ExecResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn exec(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ExecRequest>,
) -> ApiResult<Json<ExecResponse>> {
    let command = command_of(&req)?;
    let out = st
        .sandboxes
        .exec(
            &id,
            ExecSpec {
                command,
                cwd: req.cwd,
                envs: req.envs.unwrap_or_default(),
                user: req.user,
                timeout_ms: req.timeout_ms,
                stdin: req.stdin.map(String::into_bytes),
                output_cap: Some(EXEC_OUTPUT_CAP_BYTES),
            },
        )
        .await?;
    Ok(Json(ExecResponse {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        exit_code: out.exit_code,
        duration_ms: out.duration_ms,
        timed_out: out.timed_out,
        truncated: out.truncated,
    }))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/sandboxes/{id}/exec", post(exec))
}
