//! `GET /v1/sandboxes/{id}/shell`: a WebSocket carrying an interactive PTY. Binary frames are
//! terminal bytes both ways; text frames are JSON control messages (`{"type":"resize","cols","rows"}`
//! from the client, `{"type":"exit","exitCode"}` from the server right before a normal close).

use crate::error::ApiResult;
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use cove_api::{ErrorBody, ShellControl};
use cove_core::{ShellEvent, ShellSession, ShellSpec};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShellQuery {
    cols: Option<u16>,
    rows: Option<u16>,
    user: Option<String>,
    cwd: Option<String>,
}

/// Open an interactive shell over a WebSocket.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/shell", tag = "shell",
    params(("id" = String, Path), ("cols" = Option<u16>, Query), ("rows" = Option<u16>, Query),
           ("user" = Option<String>, Query), ("cwd" = Option<String>, Query)),
    responses((status = 101, description = "WebSocket: binary frames = terminal bytes, text frames = JSON control"),
              (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn shell(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ShellQuery>,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    // Start the shell before upgrading so a bad request gets a proper HTTP error.
    let session = st
        .sandboxes
        .open_shell(
            &id,
            ShellSpec {
                cols: q.cols.unwrap_or(80),
                rows: q.rows.unwrap_or(24),
                user: q.user,
                cwd: q.cwd,
            },
        )
        .await?;
    Ok(ws.on_upgrade(move |socket| bridge(socket, session)))
}

async fn bridge(mut socket: WebSocket, mut session: ShellSession) {
    loop {
        tokio::select! {
            ev = session.next() => match ev {
                Some(ShellEvent::Output(bytes)) => {
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        session.kill().await;
                        return;
                    }
                }
                exit @ (Some(ShellEvent::Exit(_)) | None) => {
                    let code = match exit { Some(ShellEvent::Exit(c)) => c, _ => -1 };
                    let msg = serde_json::to_string(&ShellControl::Exit { exit_code: code })
                        .unwrap_or_default();
                    let _ = socket.send(Message::Text(msg.into())).await;
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame {
                            code: 1000,
                            reason: format!("exit {code}").into(),
                        })))
                        .await;
                    return;
                }
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    if session.input(b.to_vec()).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ShellControl>(&t) {
                    Ok(ShellControl::Resize { cols, rows }) => {
                        if let Err(e) = session.resize(cols, rows).await {
                            let _ = socket
                                .send(Message::Text(
                                    serde_json::json!({"type": "error", "message": e.message()})
                                        .to_string()
                                        .into(),
                                ))
                                .await;
                        }
                    }
                    // Plain text that is not a control message is typed into the terminal, which
                    // keeps simple clients (e.g. `websocat`) usable.
                    _ => {
                        if session.input(t.as_bytes().to_vec()).await.is_err() {
                            return;
                        }
                    }
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    session.kill().await;
                    return;
                }
            },
        }
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/sandboxes/{id}/shell", get(shell))
}
