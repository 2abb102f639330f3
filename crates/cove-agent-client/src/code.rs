//! Types of the agent's code interpreter (`/code/...`): the E2B code-interpreter protocol, whose
//! `/execute` answers newline-delimited JSON, one [`CodeEvent`] per line.

use crate::error::{AgentError, AgentResult};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Body of `POST /code/execute`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CodeExecuteRequest {
    /// Source to run.
    pub code: String,
    /// Context to run in (exclusive with `language`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Language whose default context runs the code (default `python`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Environment variables set for this execution only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env_vars: BTreeMap<String, String>,
    /// Interrupt the cell after this many milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// A code context (one kernel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeContext {
    /// Context id.
    pub id: String,
    /// Language, lowercased (`python`, `javascript`, ...).
    pub language: String,
    /// Working directory of the kernel.
    pub cwd: String,
}

/// A kernel installed in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeLanguage {
    /// Language, lowercased.
    pub language: String,
    /// Kernelspec name (`python3`, `ir`, ...).
    pub kernel_name: String,
    /// Human name.
    pub display_name: String,
}

/// One rich output: the MIME bundle under E2B's short keys (`text`, `html`, `png`, `json`, ...,
/// `extra` for other types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeResult {
    /// True for the cell's value (`execute_result`), false for `display_data`.
    #[serde(default)]
    pub is_main_result: bool,
    /// The bundle.
    #[serde(flatten)]
    pub bundle: Map<String, Value>,
}

/// One line of an execution stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CodeEvent {
    /// The execution counter of the cell.
    NumberOfExecutions {
        /// Counter.
        execution_count: u64,
    },
    /// Standard output text.
    Stdout {
        /// Text.
        text: String,
        /// RFC 3339 time the kernel produced it.
        #[serde(default)]
        timestamp: Option<String>,
    },
    /// Standard error text.
    Stderr {
        /// Text.
        text: String,
        /// RFC 3339 time the kernel produced it.
        #[serde(default)]
        timestamp: Option<String>,
    },
    /// A rich result.
    Result(CodeResult),
    /// The cell raised.
    Error {
        /// Exception class.
        name: String,
        /// Exception message.
        value: String,
        /// Formatted traceback.
        traceback: String,
    },
    /// The execution finished (always the last line).
    EndOfExecution {
        /// The cell was interrupted at its timeout.
        #[serde(default)]
        timed_out: bool,
    },
    /// Keepalives and anything unknown.
    #[serde(other)]
    Other,
}

/// The lines of a running execution.
pub struct CodeEventStream {
    body: Incoming,
    buf: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for CodeEventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeEventStream").finish_non_exhaustive()
    }
}

/// A single line larger than this is a protocol error (charts are a few hundred KiB).
const MAX_LINE: usize = 256 * 1024 * 1024;

impl CodeEventStream {
    pub(crate) fn new(body: Incoming) -> Self {
        Self {
            body,
            buf: Vec::new(),
            done: false,
        }
    }

    /// The next event; `None` after `EndOfExecution` or the end of the body.
    pub async fn next(&mut self) -> Option<AgentResult<CodeEvent>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = &line[..line.len() - 1];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(match serde_json::from_slice::<CodeEvent>(line) {
                    Ok(ev) => {
                        if matches!(ev, CodeEvent::EndOfExecution { .. }) {
                            self.done = true;
                        }
                        Ok(ev)
                    }
                    Err(e) => {
                        self.done = true;
                        Err(AgentError::Protocol(format!("bad execution line: {e}")))
                    }
                });
            }
            if self.buf.len() > MAX_LINE {
                self.done = true;
                return Some(Err(AgentError::Protocol("execution line too long".into())));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(AgentError::Unreachable(e.to_string())));
                }
                None => {
                    self.done = true;
                    return Some(Err(AgentError::Protocol(
                        "execution stream ended without end_of_execution".into(),
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let ev: CodeEvent =
            serde_json::from_str(r#"{"type":"result","is_main_result":true,"text":"2","png":"x"}"#)
                .expect("result");
        match ev {
            CodeEvent::Result(r) => {
                assert!(r.is_main_result);
                assert_eq!(r.bundle.get("text"), Some(&Value::from("2")));
                assert!(!r.bundle.contains_key("type"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let ev: CodeEvent = serde_json::from_str(r#"{"type":"keepalive"}"#).expect("keepalive");
        assert_eq!(ev, CodeEvent::Other);
        let ev: CodeEvent = serde_json::from_str(r#"{"type":"end_of_execution"}"#).expect("end");
        assert_eq!(ev, CodeEvent::EndOfExecution { timed_out: false });
    }
}
