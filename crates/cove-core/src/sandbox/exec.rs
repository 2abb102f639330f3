//! Running a command to completion through the agent's `process.Process/Start` stream.

use super::{Live, SandboxService};
use crate::error::{CoreError, CoreResult};
use cove_proto::process::{
    CloseStdinRequest, CloseStdinResponse, ProcessConfig, ProcessInput, ProcessSelector,
    SendInputRequest, SendInputResponse, SendSignalRequest, SendSignalResponse, Signal,
    StartRequest,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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

    pub(crate) async fn exec_on(&self, live: &Live, spec: ExecSpec) -> CoreResult<ExecOutput> {
        let (cmd, args) = match &spec.command {
            ExecCommand::Shell(line) => {
                if line.trim().is_empty() {
                    return Err(CoreError::invalid("command must not be empty"));
                }
                (
                    "/bin/bash".to_string(),
                    vec!["-l".into(), "-c".into(), line.clone()],
                )
            }
            ExecCommand::Argv { cmd, args } => {
                if cmd.is_empty() {
                    return Err(CoreError::invalid("cmd must not be empty"));
                }
                (cmd.clone(), args.clone())
            }
        };
        for k in spec.envs.keys() {
            super::create::validate_env_key(k)?;
        }
        let timeout_ms = spec.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err(CoreError::invalid("timeoutMs must be greater than 0"));
        }
        let cap = spec.output_cap.unwrap_or(DEFAULT_CAP);
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
        let client = &live.client;
        let user = spec.user.as_deref();
        let mut stream = client.start(&req, user, Some(timeout_ms)).await?;
        let mut out = ExecOutput::default();
        let mut pid = None;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms) + GRACE;
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            let ev = match next {
                Err(_) => {
                    // The agent should have killed it at the deadline; make sure.
                    if let Some(pid) = pid {
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
                    out.timed_out = true;
                    out.exit_code = -1;
                    break;
                }
                Ok(None) => {
                    return Err(CoreError::internal(
                        "process stream ended without an end event",
                    ))
                }
                Ok(Some(Err(e))) => {
                    if e.code() == cove_proto::Code::DeadlineExceeded {
                        out.timed_out = true;
                        out.exit_code = -1;
                        break;
                    }
                    return Err(e.into());
                }
                Ok(Some(Ok(ev))) => ev,
            };
            if let Some(s) = ev.start {
                pid = Some(s.pid);
                if let Some(input) = &spec.stdin {
                    self.feed_stdin(live, s.pid, input.clone()).await?;
                }
            }
            if let Some(d) = ev.data {
                if let Some(b) = d.stdout {
                    append_capped(&mut out.stdout, &b, cap, &mut out.truncated);
                }
                if let Some(b) = d.stderr {
                    append_capped(&mut out.stderr, &b, cap, &mut out.truncated);
                }
            }
            if let Some(end) = ev.end {
                out.exit_code = end.exit_code;
                let elapsed = started.elapsed();
                if !end.exited && elapsed >= Duration::from_millis(timeout_ms) {
                    out.timed_out = true;
                }
                // Drain to the end-stream so a deadline error right after `end` is seen.
                while let Some(r) = stream.next().await {
                    if let Err(e) = r {
                        if e.code() == cove_proto::Code::DeadlineExceeded {
                            out.timed_out = true;
                        }
                    }
                }
                break;
            }
        }
        out.duration_ms = started.elapsed().as_millis() as u64;
        Ok(out)
    }

    async fn feed_stdin(&self, live: &Live, pid: u32, input: Vec<u8>) -> CoreResult<()> {
        let client = &live.client;
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
