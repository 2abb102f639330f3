//! Interactive shells: a PTY process in the sandbox whose terminal bytes flow both ways. The
//! surface (a WebSocket) only moves bytes and resize requests; the PTY lives in the agent.

use super::SandboxService;
use crate::error::{CoreError, CoreResult};
use cove_agent_client::{AgentClient, EventStream};
use cove_proto::process::{
    ProcessConfig, ProcessInput, ProcessSelector, Pty, PtySize, SendInputRequest,
    SendInputResponse, SendSignalRequest, SendSignalResponse, Signal, StartRequest, UpdateRequest,
    UpdateResponse,
};
use std::collections::BTreeMap;

/// How to open a shell.
#[derive(Debug, Clone)]
pub struct ShellSpec {
    /// Terminal columns.
    pub cols: u16,
    /// Terminal rows.
    pub rows: u16,
    /// User (default: the sandbox default user).
    pub user: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
}

/// What a shell produced.
#[derive(Debug)]
pub enum ShellEvent {
    /// Terminal output.
    Output(Vec<u8>),
    /// The shell exited with this code (-1 for a signal); nothing follows.
    Exit(i32),
}

/// A running interactive shell.
pub struct ShellSession {
    /// Pid of the shell in the sandbox.
    pub pid: u32,
    client: AgentClient,
    events: EventStream,
    done: bool,
}

fn check_size(cols: u16, rows: u16) -> CoreResult<()> {
    if cols == 0 || rows == 0 || cols > 1000 || rows > 1000 {
        return Err(CoreError::invalid(format!(
            "terminal size must be 1..1000 columns and rows (got {cols}x{rows})"
        )));
    }
    Ok(())
}

impl ShellSession {
    /// Next output or the exit; `None` after the exit.
    pub async fn next(&mut self) -> Option<ShellEvent> {
        if self.done {
            return None;
        }
        loop {
            match self.events.next().await {
                Some(Ok(ev)) => {
                    if let Some(d) = ev.data {
                        if let Some(b) = d.pty.or(d.stdout).or(d.stderr) {
                            return Some(ShellEvent::Output(b));
                        }
                    }
                    if let Some(end) = ev.end {
                        self.done = true;
                        return Some(ShellEvent::Exit(end.exit_code));
                    }
                }
                Some(Err(_)) | None => {
                    self.done = true;
                    return Some(ShellEvent::Exit(-1));
                }
            }
        }
    }

    /// Types into the terminal.
    pub async fn input(&self, data: Vec<u8>) -> CoreResult<()> {
        let _: SendInputResponse = self
            .client
            .unary(
                "process.Process/SendInput",
                &SendInputRequest {
                    process: Some(ProcessSelector::pid(self.pid)),
                    input: Some(ProcessInput {
                        stdin: None,
                        pty: Some(data),
                    }),
                },
                None,
            )
            .await?;
        Ok(())
    }

    /// Resizes the terminal.
    pub async fn resize(&self, cols: u16, rows: u16) -> CoreResult<()> {
        check_size(cols, rows)?;
        let _: UpdateResponse = self
            .client
            .unary(
                "process.Process/Update",
                &UpdateRequest {
                    process: Some(ProcessSelector::pid(self.pid)),
                    pty: Some(Pty {
                        size: Some(PtySize {
                            cols: cols.into(),
                            rows: rows.into(),
                        }),
                    }),
                },
                None,
            )
            .await?;
        Ok(())
    }

    /// Kills the shell (when the client goes away).
    pub async fn kill(&self) {
        let _: Result<SendSignalResponse, _> = self
            .client
            .unary(
                "process.Process/SendSignal",
                &SendSignalRequest {
                    process: Some(ProcessSelector::pid(self.pid)),
                    signal: Signal::Sigkill,
                },
                None,
            )
            .await;
    }
}

impl SandboxService {
    /// Starts `bash -i -l` on a PTY.
    pub async fn open_shell(&self, id: &str, spec: ShellSpec) -> CoreResult<ShellSession> {
        check_size(spec.cols, spec.rows)?;
        let live = self.agent(id).await?;
        let mut envs = BTreeMap::new();
        envs.insert("TERM".to_string(), "xterm-256color".to_string());
        envs.insert("LANG".to_string(), "C.UTF-8".to_string());
        let req = StartRequest {
            process: Some(ProcessConfig {
                cmd: "/bin/bash".into(),
                args: vec!["-i".into(), "-l".into()],
                envs,
                cwd: spec.cwd.clone(),
            }),
            pty: Some(Pty {
                size: Some(PtySize {
                    cols: spec.cols.into(),
                    rows: spec.rows.into(),
                }),
            }),
            tag: None,
            stdin: Some(false),
        };
        let mut events = live.client.start(&req, spec.user.as_deref(), None).await?;
        let pid = super::exec::first_start(&mut events).await?;
        Ok(ShellSession {
            pid,
            client: live.client.clone(),
            events,
            done: false,
        })
    }
}
