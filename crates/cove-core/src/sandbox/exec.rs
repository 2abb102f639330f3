//! Running a command to completion through the agent's `process.Process/Start` stream.

use super::{Live, SandboxService};
use crate::error::{CoreError, CoreResult};
use cove_agent_client::{AgentClient, EventStream};
use cove_proto::process::{
    CloseStdinRequest, CloseStdinResponse, ProcessConfig, ProcessInput, ProcessSelector,
    SendInputRequest, SendInputResponse, SendSignalRequest, SendSignalResponse, Signal,
    StartRequest,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What to run.
#[derive(Debug, Clone)]
pub enum ExecCommand {
    /// A command line run by `/bin/bash -l -c`.
    Shell(String),
    /// A program and its arguments, run directly.
    Argv {
        /// Program (looked up in PATH).
        cmd: String,
        /// Arguments.
        args: Vec<String>,
    },
}

impl Default for ExecCommand {
    fn default() -> Self {
        ExecCommand::Shell(String::new())
    }
}

/// An exec request.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    /// The command.
    pub command: ExecCommand,
    /// Working directory.
    pub cwd: Option<String>,
    /// Extra env.
    pub envs: BTreeMap<String, String>,
    /// User (default: the sandbox default user).
    pub user: Option<String>,
    /// Kill after this many ms (default 60 000).
    pub timeout_ms: Option<u64>,
    /// Bytes for stdin, then EOF.
    pub stdin: Option<Vec<u8>>,
    /// Cap on each of stdout/stderr.
    pub output_cap: Option<usize>,
}

/// The outcome of an exec.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    /// Captured stdout (up to the cap).
    pub stdout: Vec<u8>,
    /// Captured stderr (up to the cap).
    pub stderr: Vec<u8>,
    /// Exit code, -1 when killed by a signal.
    pub exit_code: i32,
    /// Wall time.
    pub duration_ms: u64,
    /// Killed because the timeout expired.
    pub timed_out: bool,
    /// Output was cut at the cap.
    pub truncated: bool,
}

/// One piece of a running exec.
#[derive(Debug)]
pub enum ExecEvent {
    /// A chunk of standard output.
    Stdout(Vec<u8>),
    /// A chunk of standard error.
    Stderr(Vec<u8>),
    /// The process ended (always the last event on success).
    Exit(ExecExit),
    /// The exec failed after the process started (agent gone, protocol error).
    Failed(CoreError),
}

/// How an exec ended.
#[derive(Debug, Clone, Copy)]
pub struct ExecExit {
    /// Exit code, -1 when killed by a signal.
    pub exit_code: i32,
    /// Wall time.
    pub duration_ms: u64,
    /// Killed because the timeout expired.
    pub timed_out: bool,
}

/// Events of a started exec.
#[derive(Debug)]
pub struct ExecStream {
    /// Process id inside the sandbox.
    pub pid: u32,
    rx: mpsc::Receiver<ExecEvent>,
}

impl ExecStream {
    /// The next event; `None` after `Exit`/`Failed`.
    pub async fn next(&mut self) -> Option<ExecEvent> {
        self.rx.recv().await
    }
}

/// Default exec timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;
/// Default output cap per stream.
const DEFAULT_CAP: usize = 10 * 1024 * 1024;
/// Grace after the agent-side deadline before Cove kills the process itself.
const GRACE: Duration = Duration::from_secs(5);

fn append_capped(buf: &mut Vec<u8>, chunk: &[u8], cap: usize, truncated: &mut bool) {
    let room = cap.saturating_sub(buf.len());
    if chunk.len() > room {
        *truncated = true;
    }
    buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
}

impl SandboxService {
    /// Runs a command to completion in a running sandbox.
    #[tracing::instrument(skip(self, spec), fields(sandbox_id = %id_or_name))]
    pub async fn exec(&self, id_or_name: &str, spec: ExecSpec) -> CoreResult<ExecOutput> {
        let started = Instant::now();
        let live = self.agent(id_or_name).await?;
        let res = self.exec_on(&live, spec).await;
        match &res {
            Ok(_) => crate::metrics::EXEC.observe(started.elapsed()),
            Err(_) => crate::metrics::exec_failed(),
        }
        res
    }

    /// Starts a command and returns its output as a stream of events, once the process exists.
    /// Errors that happen before the process starts (missing binary, bad cwd) are returned here,
    /// so a streaming surface can still answer them with a proper status.
    #[tracing::instrument(skip(self, spec), fields(sandbox_id = %id_or_name))]
    pub async fn exec_stream(&self, id_or_name: &str, spec: ExecSpec) -> CoreResult<ExecStream> {
        let live = self.agent(id_or_name).await?;
        self.start_exec(&live, spec).await
    }

    pub(crate) async fn exec_on(&self, live: &Live, spec: ExecSpec) -> CoreResult<ExecOutput> {
        let mut collect = Collect {
            cap: spec.output_cap.unwrap_or(DEFAULT_CAP),
            out: ExecOutput::default(),
            result: None,
        };
        let started = self.begin_exec(live, spec).await?;
        let mut guard = KillOnDrop(Some((started.client.clone(), started.pid)));
        // Run to completion in this task: a waiting caller needs no driver task and no channel.
        started.drive(&mut collect).await;
        guard.0 = None;
        match collect.result {
            Some(Ok(())) => Ok(collect.out),
            Some(Err(e)) => Err(e),
            None => Err(CoreError::internal("process stream ended without an exit")),
        }
    }

    pub(crate) async fn start_exec(&self, live: &Live, spec: ExecSpec) -> CoreResult<ExecStream> {
        let started = self.begin_exec(live, spec).await?;
        let pid = started.pid;
        let (mut tx, rx) = mpsc::channel(64);
        tokio::spawn(async move { started.drive(&mut tx).await });
        Ok(ExecStream { pid, rx })
    }

    /// Starts the process and waits for its `start` event (and feeds stdin).
    async fn begin_exec(&self, live: &Live, spec: ExecSpec) -> CoreResult<Started> {
        let (cmd, args) = argv(&spec)?;
        let timeout_ms = spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err(CoreError::invalid("timeoutMs must be greater than 0"));
        }
        let req = StartRequest {
            process: Some(ProcessConfig {
                cmd,
                args,
                envs: spec.envs.clone(),
                cwd: spec.cwd.clone(),
            }),
            pty: None,
            tag: None,
            stdin: Some(spec.stdin.is_some()),
        };
        let started = Instant::now();
        let client = live.client.clone();
        let mut stream = client
            .start(&req, spec.user.as_deref(), Some(timeout_ms))
            .await?;
        let pid = first_start(&mut stream).await?;
        if let Some(input) = &spec.stdin {
            feed_stdin(&client, pid, input.clone()).await?;
        }
        Ok(Started {
            client,
            stream,
            pid,
            started,
            timeout_ms,
        })
    }
}

/// A process whose `start` event has arrived.
struct Started {
    client: AgentClient,
    stream: EventStream,
    pid: u32,
    started: Instant,
    timeout_ms: u64,
}

/// Kills the process if a run-to-completion exec is abandoned (its caller went away), as the
/// driver task of a streamed exec does when its receiver is gone.
struct KillOnDrop(Option<(AgentClient, u32)>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some((client, pid)) = self.0.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { kill(&client, pid).await });
            }
        }
    }
}

async fn kill(client: &AgentClient, pid: u32) {
    let _ = client
        .unary::<_, SendSignalResponse>(
            "process.Process/SendSignal",
            &SendSignalRequest {
                process: Some(ProcessSelector::pid(pid)),
                signal: Signal::Sigkill,
            },
            None,
        )
        .await;
}

/// Where [`Started::drive`] delivers events.
trait Sink {
    /// Hands over one event; false when the receiver has gone away.
    async fn deliver(&mut self, ev: ExecEvent) -> bool;
}

impl Sink for mpsc::Sender<ExecEvent> {
    async fn deliver(&mut self, ev: ExecEvent) -> bool {
        self.send(ev).await.is_ok()
    }
}

/// Collects a run-to-completion exec's output, capped per stream.
struct Collect {
    cap: usize,
    out: ExecOutput,
    result: Option<CoreResult<()>>,
}

impl Sink for Collect {
    async fn deliver(&mut self, ev: ExecEvent) -> bool {
        let out = &mut self.out;
        match ev {
            ExecEvent::Stdout(b) => {
                append_capped(&mut out.stdout, &b, self.cap, &mut out.truncated)
            }
            ExecEvent::Stderr(b) => {
                append_capped(&mut out.stderr, &b, self.cap, &mut out.truncated)
            }
            ExecEvent::Exit(exit) => {
                out.exit_code = exit.exit_code;
                out.duration_ms = exit.duration_ms;
                out.timed_out = exit.timed_out;
                self.result = Some(Ok(()));
            }
            ExecEvent::Failed(e) => self.result = Some(Err(e)),
        }
        true
    }
}

async fn feed_stdin(client: &AgentClient, pid: u32, input: Vec<u8>) -> CoreResult<()> {
    if !input.is_empty() {
        client
            .unary::<_, SendInputResponse>(
                "process.Process/SendInput",
                &SendInputRequest {
                    process: Some(ProcessSelector::pid(pid)),
                    input: Some(ProcessInput {
                        stdin: Some(input),
                        pty: None,
                    }),
                },
                None,
            )
            .await?;
    }
    client
        .unary::<_, CloseStdinResponse>(
            "process.Process/CloseStdin",
            &CloseStdinRequest {
                process: Some(ProcessSelector::pid(pid)),
            },
            None,
        )
        .await?;
    Ok(())
}

impl Started {
    /// Pumps agent events into `sink`, enforcing the deadline from the control plane's side too (the
    /// agent kills at `Connect-Timeout-Ms`; this is the safety net). If the receiver goes away (a
    /// streaming client disconnected), the process is killed: an exec is not a background job.
    async fn drive(self, sink: &mut impl Sink) {
        let Started {
            client,
            mut stream,
            pid,
            started,
            timeout_ms,
        } = self;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms) + GRACE;
        let exit = |exit_code: i32, timed_out: bool| {
            ExecEvent::Exit(ExecExit {
                exit_code,
                duration_ms: started.elapsed().as_millis() as u64,
                timed_out,
            })
        };
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            let ev = match next {
                Err(_) => {
                    kill(&client, pid).await;
                    sink.deliver(exit(-1, true)).await;
                    return;
                }
                Ok(None) => {
                    sink.deliver(ExecEvent::Failed(CoreError::internal(
                        "process stream ended without an end event",
                    )))
                    .await;
                    return;
                }
                Ok(Some(Err(e))) => {
                    let msg = if e.code() == cove_proto::Code::DeadlineExceeded {
                        exit(-1, true)
                    } else {
                        ExecEvent::Failed(e.into())
                    };
                    sink.deliver(msg).await;
                    return;
                }
                Ok(Some(Ok(ev))) => ev,
            };
            if let Some(d) = ev.data {
                let chunks = [
                    d.stdout.map(ExecEvent::Stdout),
                    d.stderr.map(ExecEvent::Stderr),
                ];
                for c in chunks.into_iter().flatten() {
                    if !sink.deliver(c).await {
                        kill(&client, pid).await;
                        return;
                    }
                }
            }
            if let Some(end) = ev.end {
                let mut timed_out =
                    !end.exited && started.elapsed() >= Duration::from_millis(timeout_ms);
                // Drain to the end-stream so a deadline error right after `end` is seen.
                while let Some(r) = stream.next().await {
                    if let Err(e) = r {
                        if e.code() == cove_proto::Code::DeadlineExceeded {
                            timed_out = true;
                        }
                    }
                }
                sink.deliver(exit(end.exit_code, timed_out)).await;
                return;
            }
        }
    }
}

/// The program and arguments of an exec-like request (a shell line runs under `bash -l -c`), after
/// checking the command and the env names.
pub(crate) fn argv(spec: &ExecSpec) -> CoreResult<(String, Vec<String>)> {
    for k in spec.envs.keys() {
        super::create::validate_env_key(k)?;
    }
    match &spec.command {
        ExecCommand::Shell(line) if !line.trim().is_empty() => Ok((
            "/bin/bash".to_string(),
            vec!["-l".into(), "-c".into(), line.clone()],
        )),
        ExecCommand::Shell(_) => Err(CoreError::invalid("command must not be empty")),
        ExecCommand::Argv { cmd, args } if !cmd.is_empty() => Ok((cmd.clone(), args.clone())),
        ExecCommand::Argv { .. } => Err(CoreError::invalid("cmd must not be empty")),
    }
}

/// Reads a process stream's first event, which must be `start`, and returns the pid. Errors
/// before it (missing binary, bad cwd, unknown user) come back as the agent reported them.
pub(crate) async fn first_start(stream: &mut EventStream) -> CoreResult<u32> {
    match stream.next().await {
        Some(Ok(ev)) => ev
            .start
            .map(|s| s.pid)
            .ok_or_else(|| CoreError::internal("agent stream did not begin with start")),
        Some(Err(e)) => Err(e.into()),
        None => Err(CoreError::internal("agent stream ended before start")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_truncates_and_flags() {
        let mut buf = Vec::new();
        let mut t = false;
        append_capped(&mut buf, b"hello", 8, &mut t);
        assert!(!t);
        append_capped(&mut buf, b"world", 8, &mut t);
        assert!(t);
        assert_eq!(buf, b"hellowor");
        append_capped(&mut buf, b"!", 8, &mut t);
        assert_eq!(buf, b"hellowor");
    }
}
