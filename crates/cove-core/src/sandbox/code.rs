//! The code interpreter: running code in a sandbox's Jupyter kernels and managing their contexts,
//! through the agent's `/code` endpoints.

use super::SandboxService;
use crate::error::{CoreError, CoreResult};
use cove_agent_client::{AgentError, CodeEventStream, CodeExecuteRequest};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub use cove_agent_client::{CodeContext, CodeLanguage};

/// Default time a cell may run before it is interrupted.
pub const DEFAULT_CODE_TIMEOUT_MS: u64 = 60_000;
/// How long past the cell's timeout Cove waits for the agent to end the stream. The agent itself
/// interrupts at the timeout and restarts a kernel that ignores the interrupt for 10 s.
const GRACE: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct CodeSpec {
    /// Source code.
    pub code: String,
    /// Language of the default context to use (exclusive with `context_id`; default python).
    pub language: Option<String>,
    /// Context to run in.
    pub context_id: Option<String>,
    /// Environment variables for this execution only.
    pub envs: BTreeMap<String, String>,
    /// Interrupt after this many ms (default 60 000).
    pub timeout_ms: Option<u64>,
}

/// A rich output of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeResult {
    /// The cell's value (true) or something it displayed (false).
    pub is_main_result: bool,
    /// MIME bundle under E2B's short keys (`text`, `html`, `png`, `json`, ..., `extra`).
    pub bundle: Map<String, Value>,
}

/// An exception raised by the cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeError {
    /// Exception class, e.g. `NameError`.
    pub name: String,
    /// Exception message.
    pub value: String,
    /// Formatted traceback.
    pub traceback: String,
}

/// One piece of a running execution.
#[derive(Debug)]
pub enum CodeEvent {
    /// The kernel's execution counter for this cell.
    ExecutionCount(u64),
    /// Standard output text.
    Stdout(String),
    /// Standard error text.
    Stderr(String),
    /// A rich result.
    Result(CodeResult),
    /// The cell raised.
    Error(CodeError),
    /// The execution ended (always last on success).
    End {
        /// Interrupted at the timeout.
        timed_out: bool,
        /// Wall time.
        duration_ms: u64,
    },
    /// The execution broke off (agent gone, protocol error).
    Failed(CoreError),
}

/// Events of a started execution.
#[derive(Debug)]
pub struct CodeStream {
    rx: mpsc::Receiver<CodeEvent>,
}

impl CodeStream {
    /// The next event; `None` after `End`/`Failed`.
    pub async fn next(&mut self) -> Option<CodeEvent> {
        self.rx.recv().await
    }
}

/// A finished execution.
#[derive(Debug, Clone, Default)]
pub struct CodeOutput {
    /// All stdout text.
    pub stdout: String,
    /// All stderr text.
    pub stderr: String,
    /// Rich results in order.
    pub results: Vec<CodeResult>,
    /// The exception, if the cell raised.
    pub error: Option<CodeError>,
    /// The kernel's execution counter.
    pub execution_count: Option<u64>,
    /// Interrupted at the timeout.
    pub timed_out: bool,
    /// Wall time.
    pub duration_ms: u64,
}

/// The agent answers code-interpreter errors with plain HTTP statuses; map them to the shared
/// codes. A missing kernel is `failed_precondition` (409): the request is fine, the sandbox lacks
/// what it needs.
fn map_err(e: AgentError) -> CoreError {
    match &e {
        AgentError::Http { status, message } => match status {
            400 => CoreError::invalid(message.clone()),
            404 => CoreError::not_found(message.clone()),
            409 | 422 => CoreError::precondition(message.clone()),
            503 => CoreError::unavailable(message.clone()),
            _ => e.into(),
        },
        _ => e.into(),
    }
}

impl SandboxService {
    /// Starts an execution and returns its events once the context is resolved (so an unknown
    /// context or a missing kernel is an error here, not in the stream). Dropping the stream
    /// cancels the execution: the agent interrupts the kernel when its client goes away.
    #[tracing::instrument(skip(self, spec), fields(sandbox_id = %id_or_name))]
    pub async fn code_execute_stream(
        &self,
        id_or_name: &str,
        spec: CodeSpec,
    ) -> CoreResult<CodeStream> {
        if spec.language.as_deref().is_some_and(|l| !l.is_empty())
            && spec.context_id.as_deref().is_some_and(|c| !c.is_empty())
        {
            return Err(CoreError::invalid(
                "set either language or contextId, not both",
            ));
        }
        for k in spec.envs.keys() {
            super::create::validate_env_key(k)?;
        }
        let timeout_ms = spec.timeout_ms.unwrap_or(DEFAULT_CODE_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err(CoreError::invalid("timeoutMs must be greater than 0"));
        }
        let live = self.agent(id_or_name).await?;
        let req = CodeExecuteRequest {
            code: spec.code,
            context_id: spec.context_id.filter(|c| !c.is_empty()),
            language: spec.language.filter(|l| !l.is_empty()),
            env_vars: spec.envs,
            timeout_ms: Some(timeout_ms),
        };
        let started = Instant::now();
        let stream = live.client.code_execute(&req).await.map_err(map_err)?;
        let (tx, rx) = mpsc::channel(64);
        let limit = Duration::from_millis(timeout_ms) + GRACE;
        tokio::spawn(drive(stream, tx, started, limit));
        Ok(CodeStream { rx })
    }

    /// Runs code to completion and collects its output.
    pub async fn code_execute(&self, id_or_name: &str, spec: CodeSpec) -> CoreResult<CodeOutput> {
        let mut stream = self.code_execute_stream(id_or_name, spec).await?;
        let mut out = CodeOutput::default();
        while let Some(ev) = stream.next().await {
            match ev {
                CodeEvent::ExecutionCount(n) => out.execution_count = Some(n),
                CodeEvent::Stdout(t) => out.stdout.push_str(&t),
                CodeEvent::Stderr(t) => out.stderr.push_str(&t),
                CodeEvent::Result(r) => out.results.push(r),
                CodeEvent::Error(e) => out.error = Some(e),
                CodeEvent::End {
                    timed_out,
                    duration_ms,
                } => {
                    out.timed_out = timed_out;
                    out.duration_ms = duration_ms;
                    return Ok(out);
                }
                CodeEvent::Failed(e) => return Err(e),
            }
        }
        Err(CoreError::internal("execution stream ended without an end"))
    }

    /// Kernels installed in the sandbox.
    pub async fn code_languages(&self, id_or_name: &str) -> CoreResult<Vec<CodeLanguage>> {
        let live = self.agent(id_or_name).await?;
        live.client.code_languages().await.map_err(map_err)
    }

    /// Contexts of the sandbox (including the per-language defaults).
    pub async fn code_contexts(&self, id_or_name: &str) -> CoreResult<Vec<CodeContext>> {
        let live = self.agent(id_or_name).await?;
        live.client.code_contexts().await.map_err(map_err)
    }

    /// Creates a context and starts its kernel.
    pub async fn code_create_context(
        &self,
        id_or_name: &str,
        language: Option<&str>,
        cwd: Option<&str>,
    ) -> CoreResult<CodeContext> {
        let live = self.agent(id_or_name).await?;
        live.client
            .code_create_context(language, cwd)
            .await
            .map_err(map_err)
    }

    /// Restarts a context's kernel; its state is lost.
    pub async fn code_restart_context(&self, id_or_name: &str, context_id: &str) -> CoreResult<()> {
        let live = self.agent(id_or_name).await?;
        live.client
            .code_restart_context(context_id)
            .await
            .map_err(map_err)
    }

    /// Deletes a context and stops its kernel.
    pub async fn code_delete_context(&self, id_or_name: &str, context_id: &str) -> CoreResult<()> {
        let live = self.agent(id_or_name).await?;
        live.client
            .code_delete_context(context_id)
            .await
            .map_err(map_err)
    }
}

/// Pumps agent lines into the channel. If the receiver goes away (a streaming client hung up), the
/// agent stream is dropped, which closes the connection and makes the agent interrupt the cell.
async fn drive(
    mut stream: CodeEventStream,
    tx: mpsc::Sender<CodeEvent>,
    started: Instant,
    limit: Duration,
) {
    use cove_agent_client::CodeEvent as Line;
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        let next = tokio::select! {
            n = stream.next() => n,
            _ = &mut deadline => {
                let e = CoreError::new(
                    cove_types::ErrorCode::DeadlineExceeded,
                    "the execution did not end after its timeout",
                );
                let _ = tx.send(CodeEvent::Failed(e)).await;
                return;
            }
            _ = tx.closed() => return,
        };
        let ev = match next {
            None => {
                let _ = tx
                    .send(CodeEvent::Failed(CoreError::internal(
                        "execution stream ended early",
                    )))
                    .await;
                return;
            }
            Some(Err(e)) => {
                let _ = tx.send(CodeEvent::Failed(map_err(e))).await;
                return;
            }
            Some(Ok(line)) => match line {
                Line::NumberOfExecutions { execution_count } => {
                    CodeEvent::ExecutionCount(execution_count)
                }
                Line::Stdout { text, .. } => CodeEvent::Stdout(text),
                Line::Stderr { text, .. } => CodeEvent::Stderr(text),
                Line::Result(r) => CodeEvent::Result(CodeResult {
                    is_main_result: r.is_main_result,
                    bundle: r.bundle,
                }),
                Line::Error {
                    name,
                    value,
                    traceback,
                } => CodeEvent::Error(CodeError {
                    name,
                    value,
                    traceback,
                }),
                Line::EndOfExecution { timed_out } => {
                    let duration_ms =
                        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    let _ = tx
                        .send(CodeEvent::End {
                            timed_out,
                            duration_ms,
                        })
                        .await;
                    return;
                }
                Line::Other => continue,
            },
        };
        if tx.send(ev).await.is_err() {
            return;
        }
    }
}
