//! Background commands: processes that outlive the request that started them. The control plane
//! keeps consuming each process's output stream and retains a bounded tail of it per process, so
//! clients can disconnect, list, read logs (or follow them), send stdin and signals. State lives
//! with the sandbox's live handle and disappears with the sandbox.

use super::exec::ExecSpec;
use super::{Live, SandboxService};
use crate::error::{CoreError, CoreResult};
use chrono::{DateTime, Utc};
use cove_agent_client::{AgentClient, EventStream};
use cove_proto::process::{
    CloseStdinRequest, CloseStdinResponse, ListRequest, ListResponse, ProcessConfig, ProcessInput,
    ProcessSelector, SendInputRequest, SendInputResponse, SendSignalRequest, SendSignalResponse,
    Signal, StartRequest,
};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Output retained per process (stdout and stderr together); older chunks are dropped first.
pub const RETAINED_OUTPUT_BYTES: usize = 4 * 1024 * 1024;
/// Exited processes remembered per sandbox.
const RETAINED_EXITED: usize = 256;

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One retained output chunk with its position in the process's output sequence.
#[derive(Debug, Clone)]
pub struct OutputChunk {
    /// Sequence number (0-based, never reused).
    pub seq: u64,
    /// Stream.
    pub stream: OutputStream,
    /// Bytes.
    pub data: Vec<u8>,
}

/// Snapshot of a background process.
#[derive(Debug, Clone)]
pub struct CommandStatus {
    /// Pid in the sandbox.
    pub pid: u32,
    /// Tag.
    pub tag: Option<String>,
    /// Program.
    pub cmd: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Exit code once exited.
    pub exit_code: Option<i32>,
    /// Start time (None for processes not started through this API).
    pub started_at: Option<DateTime<Utc>>,
    /// End time.
    pub ended_at: Option<DateTime<Utc>>,
}

impl CommandStatus {
    /// `running` or `exited`.
    pub fn status(&self) -> &'static str {
        if self.exit_code.is_some() {
            "exited"
        } else {
            "running"
        }
    }
}

#[derive(Debug, Default)]
struct Output {
    chunks: VecDeque<OutputChunk>,
    bytes: usize,
    next_seq: u64,
    dropped: bool,
}

#[derive(Debug)]
struct Command {
    status: Mutex<CommandStatus>,
    output: Mutex<Output>,
    changed: Notify,
}

impl Command {
    fn push(&self, stream: OutputStream, data: Vec<u8>) {
        if let Ok(mut o) = self.output.lock() {
            let seq = o.next_seq;
            o.next_seq += 1;
            o.bytes += data.len();
            o.chunks.push_back(OutputChunk { seq, stream, data });
            while o.bytes > RETAINED_OUTPUT_BYTES && o.chunks.len() > 1 {
                if let Some(old) = o.chunks.pop_front() {
                    o.bytes -= old.data.len();
                    o.dropped = true;
                }
            }
        }
        self.changed.notify_waiters();
    }

    fn snapshot(&self) -> CommandStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

/// The background commands of one sandbox.
#[derive(Debug, Default)]
pub(crate) struct Commands {
    procs: Mutex<BTreeMap<u32, Arc<Command>>>,
}

/// Reader over a command's output: the retained part first, then new chunks as they come.
pub struct CommandLogReader {
    cmd: Arc<Command>,
    next_seq: u64,
}

impl CommandLogReader {
    /// Next chunk; `None` once the process exited and everything was read.
    pub async fn next(&mut self) -> Option<OutputChunk> {
        loop {
            let notified = self.cmd.changed.notified();
            tokio::pin!(notified);
            // Register interest before checking, so a push between check and wait is not missed.
            notified.as_mut().enable();
            {
                let o = self.cmd.output.lock().ok()?;
                if let Some(c) = o.chunks.iter().find(|c| c.seq >= self.next_seq) {
                    self.next_seq = c.seq + 1;
                    return Some(c.clone());
                }
            }
            if self.cmd.snapshot().exit_code.is_some() {
                return None;
            }
            notified.await;
        }
    }

    /// The process's status now.
    pub fn status(&self) -> CommandStatus {
        self.cmd.snapshot()
    }
}

/// Everything retained so far.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Older output was dropped.
    pub truncated: bool,
    /// Status at the time of the snapshot.
    pub status: CommandStatus,
}

/// Parses a signal name or number into the protocol's signal set.
pub fn parse_signal(s: &str) -> CoreResult<Signal> {
    let up = s.trim().to_ascii_uppercase();
    match up.trim_start_matches("SIG") {
        "TERM" | "15" => Ok(Signal::Sigterm),
        "KILL" | "9" => Ok(Signal::Sigkill),
        _ => Err(CoreError::invalid(format!(
            "unsupported signal {s:?}: use SIGTERM (15) or SIGKILL (9)"
        ))),
    }
}

async fn pump(cmd: Arc<Command>, mut stream: EventStream) {
    let mut exit_code = -1;
    while let Some(ev) = stream.next().await {
        let Ok(ev) = ev else { break };
        if let Some(d) = ev.data {
            if let Some(b) = d.stdout {
                cmd.push(OutputStream::Stdout, b);
            }
            if let Some(b) = d.stderr {
                cmd.push(OutputStream::Stderr, b);
            }
        }
        if let Some(end) = ev.end {
            exit_code = end.exit_code;
        }
    }
    if let Ok(mut s) = cmd.status.lock() {
        s.exit_code = Some(exit_code);
        s.ended_at = Some(Utc::now());
    }
    cmd.changed.notify_waiters();
}

impl SandboxService {
    /// Starts a background process and returns as soon as it runs.
    pub async fn start_command(
        &self,
        id: &str,
        spec: ExecSpec,
        tag: Option<String>,
    ) -> CoreResult<CommandStatus> {
        let live = self.agent(id).await?;
        let (cmd, args) = super::exec::argv(&spec)?;
        let req = StartRequest {
            process: Some(ProcessConfig {
                cmd: cmd.clone(),
                args: args.clone(),
                envs: spec.envs.clone(),
                cwd: spec.cwd.clone(),
            }),
            pty: None,
            tag: tag.clone(),
            stdin: Some(true),
        };
        let mut stream = live.client.start(&req, spec.user.as_deref(), None).await?;
        let pid = super::exec::first_start(&mut stream).await?;
        let status = CommandStatus {
            pid,
            tag,
            cmd,
            args,
            exit_code: None,
            started_at: Some(Utc::now()),
            ended_at: None,
        };
        let command = Arc::new(Command {
            status: Mutex::new(status.clone()),
            output: Mutex::new(Output::default()),
            changed: Notify::new(),
        });
        if let Ok(mut procs) = live.commands.procs.lock() {
            procs.insert(pid, command.clone());
            let exited: Vec<u32> = procs
                .iter()
                .filter(|(_, c)| c.snapshot().exit_code.is_some())
                .map(|(p, _)| *p)
                .collect();
            if exited.len() > RETAINED_EXITED {
                for p in exited.iter().take(exited.len() - RETAINED_EXITED) {
                    procs.remove(p);
                }
            }
        }
        tokio::spawn(pump(command, stream));
        Ok(status)
    }

    /// Background processes started through this API plus any other process the agent runs.
    pub async fn list_commands(&self, id: &str) -> CoreResult<Vec<CommandStatus>> {
        let live = self.agent(id).await?;
        let mut known: BTreeMap<u32, CommandStatus> = live
            .commands
            .procs
            .lock()
            .map(|p| p.iter().map(|(k, v)| (*k, v.snapshot())).collect())
            .unwrap_or_default();
        let running: ListResponse = live
            .client
            .unary("process.Process/List", &ListRequest {}, None)
            .await?;
        for p in running.processes {
            known.entry(p.pid).or_insert_with(|| {
                let cfg = p.config.unwrap_or_default();
                CommandStatus {
                    pid: p.pid,
                    tag: p.tag,
                    cmd: cfg.cmd,
                    args: cfg.args,
                    exit_code: None,
                    started_at: None,
                    ended_at: None,
                }
            });
        }
        Ok(known.into_values().collect())
    }

    fn command(live: &Live, pid: u32) -> CoreResult<Arc<Command>> {
        live.commands
            .procs
            .lock()
            .ok()
            .and_then(|p| p.get(&pid).cloned())
            .ok_or_else(|| CoreError::not_found(format!("no background command with pid {pid}")))
    }

    /// Status of one command.
    pub async fn command_status(&self, id: &str, pid: u32) -> CoreResult<CommandStatus> {
        let live = self.agent(id).await?;
        Ok(Self::command(&live, pid)?.snapshot())
    }

    /// The retained output of a command.
    pub async fn command_output(&self, id: &str, pid: u32) -> CoreResult<CommandOutput> {
        let live = self.agent(id).await?;
        let cmd = Self::command(&live, pid)?;
        let status = cmd.snapshot();
        let o = cmd
            .output
            .lock()
            .map_err(|_| CoreError::internal("command output lock poisoned"))?;
        let mut out = CommandOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            truncated: o.dropped,
            status,
        };
        for c in &o.chunks {
            match c.stream {
                OutputStream::Stdout => out.stdout.extend_from_slice(&c.data),
                OutputStream::Stderr => out.stderr.extend_from_slice(&c.data),
            }
        }
        Ok(out)
    }

    /// Follows a command's output from the oldest retained chunk until it exits.
    pub async fn follow_command(&self, id: &str, pid: u32) -> CoreResult<CommandLogReader> {
        let live = self.agent(id).await?;
        Ok(CommandLogReader {
            cmd: Self::command(&live, pid)?,
            next_seq: 0,
        })
    }

    async fn process_client(&self, id: &str, pid: u32) -> CoreResult<AgentClient> {
        let live = self.agent(id).await?;
        let known = Self::command(&live, pid).is_ok();
        if !known {
            // Processes started elsewhere (E2B SDK, shells) can be driven too if the agent has them.
            let running: ListResponse = live
                .client
                .unary("process.Process/List", &ListRequest {}, None)
                .await?;
            if !running.processes.iter().any(|p| p.pid == pid) {
                return Err(CoreError::not_found(format!("no process with pid {pid}")));
            }
        }
        Ok(live.client.clone())
    }

    /// Writes to a command's stdin, optionally closing it afterwards.
    pub async fn command_stdin(
        &self,
        id: &str,
        pid: u32,
        data: Vec<u8>,
        close: bool,
    ) -> CoreResult<()> {
        let client = self.process_client(id, pid).await?;
        if !data.is_empty() {
            let _: SendInputResponse = client
                .unary(
                    "process.Process/SendInput",
                    &SendInputRequest {
                        process: Some(ProcessSelector::pid(pid)),
                        input: Some(ProcessInput {
                            stdin: Some(data),
                            pty: None,
                        }),
                    },
                    None,
                )
                .await?;
        }
        if close {
            let _: CloseStdinResponse = client
                .unary(
                    "process.Process/CloseStdin",
                    &CloseStdinRequest {
                        process: Some(ProcessSelector::pid(pid)),
                    },
                    None,
                )
                .await?;
        }
        Ok(())
    }

    /// Sends a signal to a process (its whole process group).
    pub async fn command_signal(&self, id: &str, pid: u32, signal: Signal) -> CoreResult<()> {
        let client = self.process_client(id, pid).await?;
        let _: SendSignalResponse = client
            .unary(
                "process.Process/SendSignal",
                &SendSignalRequest {
                    process: Some(ProcessSelector::pid(pid)),
                    signal,
                },
                None,
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").ok(), Some(Signal::Sigterm));
        assert_eq!(parse_signal("kill").ok(), Some(Signal::Sigkill));
        assert_eq!(parse_signal("9").ok(), Some(Signal::Sigkill));
        assert!(parse_signal("SIGUSR1").is_err());
    }

    #[test]
    fn retention_drops_oldest() {
        let c = Command {
            status: Mutex::new(CommandStatus {
                pid: 1,
                tag: None,
                cmd: String::new(),
                args: vec![],
                exit_code: None,
                started_at: None,
                ended_at: None,
            }),
            output: Mutex::new(Output::default()),
            changed: Notify::new(),
        };
        for _ in 0..5 {
            c.push(OutputStream::Stdout, vec![b'x'; RETAINED_OUTPUT_BYTES / 2]);
        }
        let o = c
            .output
            .lock()
            .map(|o| (o.bytes, o.dropped, o.next_seq))
            .unwrap_or_default();
        assert!(o.0 <= RETAINED_OUTPUT_BYTES);
        assert!(o.1);
        assert_eq!(o.2, 5);
    }
}
