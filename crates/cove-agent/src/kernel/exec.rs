//! One execution: an `execute_request` and the translation of the kernel's iopub traffic into the
//! E2B code-interpreter NDJSON lines (`stdout`, `stderr`, `result`, `error`, ...), ending when the
//! kernel reports `status: idle` for the request.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::{Kernel, Reply};
use super::error::KernelError;

/// E2B clients ignore keepalives; they keep proxies and idle timeouts from cutting long cells.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// After an interrupt, how long the kernel has to go idle before it is killed (a cell stuck in
/// native code may ignore SIGINT; the context then restarts on its next use).
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);
/// How long the silent env preamble/postamble may take.
const SILENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes NDJSON lines into a response body.
pub struct Emitter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Emitter {
    pub fn new(tx: mpsc::Sender<Result<Bytes, std::io::Error>>) -> Self {
        Emitter { tx }
    }

    /// Sends one line; false once the client has gone away.
    pub async fn emit(&self, v: Value) -> bool {
        let mut line = match serde_json::to_vec(&v) {
            Ok(l) => l,
            Err(_) => return true,
        };
        line.push(b'\n');
        self.tx.send(Ok(Bytes::from(line))).await.is_ok()
    }

    async fn closed(&self) {
        self.tx.closed().await
    }
}

fn timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// A MIME bundle as an E2B `result` line: well-known types get their short names, anything else
/// goes to `extra`.
pub fn result_line(data: &Map<String, Value>, is_main_result: bool) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!("result"));
    out.insert("is_main_result".into(), json!(is_main_result));
    let mut extra = Map::new();
    for (mime, v) in data {
        let key = match mime.as_str() {
            "text/plain" => "text",
            "text/html" => "html",
            "text/markdown" => "markdown",
            "image/svg+xml" => "svg",
            "image/png" => "png",
            "image/jpeg" => "jpeg",
            "application/pdf" => "pdf",
            "text/latex" => "latex",
            "application/json" => "json",
            "application/javascript" => "javascript",
            "e2b/data" => "data",
            "e2b/chart" => "chart",
            _ => {
                extra.insert(mime.clone(), v.clone());
                continue;
            }
        };
        let v = match (key, v) {
            ("text", Value::String(s)) => Value::String(strip_quotes(s).to_string()),
            // Kernels may send multi-line text as a list of lines (nbformat style).
            (_, Value::Array(lines)) if key != "json" && lines.iter().all(Value::is_string) => {
                Value::String(lines.iter().filter_map(Value::as_str).collect())
            }
            // Base64 images sometimes carry line breaks; clients decode them strictly.
            ("png" | "jpeg", Value::String(s)) => Value::String(s.replace('\n', "")),
            _ => v.clone(),
        };
        if !v.is_null() {
            out.insert(key.into(), v);
        }
    }
    if !extra.is_empty() {
        out.insert("extra".into(), Value::Object(extra));
    }
    Value::Object(out)
}

/// E2B strips one pair of quotes around a `text/plain` repr (`'abc'` → `abc`).
fn strip_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0] {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

fn error_line(content: &Value) -> Value {
    let traceback = match content.get("traceback") {
        Some(Value::Array(lines)) => lines
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let s = |k: &str| {
        content
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    json!({"type": "error", "name": s("ename"), "value": s("evalue"), "traceback": traceback})
}

/// Code that sets `env` in the kernel and code that restores the previous values, per language;
/// `None` for languages without a known way (the variables are then not applied).
fn env_code(language: &str, env: &BTreeMap<String, String>) -> Option<(String, String)> {
    let map = serde_json::to_string(env).ok()?;
    let keys = serde_json::to_string(&env.keys().collect::<Vec<_>>()).ok()?;
    match language {
        // A JSON object of strings is also a valid Python dict literal.
        "python" => Some((
            format!(
                "import os as _cove_os\n_cove_env_saved = {{_k: _cove_os.environ.get(_k) for _k in {keys}}}\n_cove_os.environ.update({map})\ndel _cove_os"
            ),
            "import os as _cove_os\n[(_cove_os.environ.pop(_k, None) if _v is None else _cove_os.environ.__setitem__(_k, _v)) for _k, _v in _cove_env_saved.items()]\ndel _cove_os, _cove_env_saved".to_string(),
        )),
        "javascript" | "typescript" => Some((
            format!(
                "globalThis.__coveEnvSaved = Object.fromEntries({keys}.map(k => [k, process.env[k]])); Object.assign(process.env, {map});"
            ),
            "for (const [k, v] of Object.entries(globalThis.__coveEnvSaved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; } delete globalThis.__coveEnvSaved;".to_string(),
        )),
        "bash" => {
            let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
            let mut set = String::new();
            let mut restore = String::new();
            for (k, v) in env {
                if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                set.push_str(&format!(
                    "if [ -n \"${{{k}+x}}\" ]; then _cove_saved_{k}=\"${k}\"; else unset _cove_saved_{k}; fi; export {k}={}\n",
                    q(v)
                ));
                restore.push_str(&format!(
                    "if [ -n \"${{_cove_saved_{k}+x}}\" ]; then export {k}=\"$_cove_saved_{k}\"; unset _cove_saved_{k}; else unset {k}; fi\n"
                ));
            }
            Some((set, restore))
        }
        _ => None,
    }
}

/// Runs housekeeping code that produces no visible output, waiting until the kernel is idle.
async fn run_silent(kernel: &Kernel, code: &str) -> Result<(), KernelError> {
    let content = json!({
        "code": code, "silent": true, "store_history": false,
        "user_expressions": {}, "allow_stdin": false, "stop_on_error": false,
    });
    let (msg_id, mut rx) = kernel.request("execute_request", &content).await?;
    let wait = async {
        while let Some(r) = rx.recv().await {
            if let Reply::Iopub(m) = r {
                if m.msg_type == "status" && m.content["execution_state"] == "idle" {
                    return Ok(());
                }
            }
        }
        Err(KernelError::Died)
    };
    let res = tokio::time::timeout(SILENT_TIMEOUT, wait).await;
    kernel.forget(&msg_id);
    res.map_err(|_| KernelError::Protocol("environment setup timed out".into()))?
}

pub struct Execution {
    pub code: String,
    pub env_vars: BTreeMap<String, String>,
    pub timeout: Option<Duration>,
}

/// What happened, for the caller's bookkeeping (the client has already seen every line).
#[derive(Debug, Default)]
pub struct Outcome {
    /// The kernel had to be killed (died, or ignored an interrupt).
    pub kernel_lost: bool,
}

/// Runs one execution, writing every line including the final `end_of_execution`.
pub async fn run(kernel: &Kernel, language: &str, ex: Execution, out: &Emitter) -> Outcome {
    let mut outcome = Outcome::default();
    let env = if ex.env_vars.is_empty() {
        None
    } else {
        env_code(language, &ex.env_vars)
    };
    if let Some((set, _)) = &env {
        if let Err(e) = run_silent(kernel, set).await {
            tracing::warn!("setting env vars: {e}");
        }
    }
    let timed_out = match execute(kernel, &ex, out).await {
        Ok(t) => t,
        Err(e) => {
            outcome.kernel_lost = matches!(e, KernelError::Died | KernelError::Unresponsive(_));
            let (name, value) = match e {
                KernelError::Died => (
                    "DeadKernelError",
                    "the kernel died; the context's state is lost and it restarts on next use"
                        .to_string(),
                ),
                KernelError::Unresponsive(_) => (
                    "TimeoutError",
                    "execution timed out; the kernel ignored the interrupt and was restarted"
                        .to_string(),
                ),
                other => ("ExecutionError", other.to_string()),
            };
            out.emit(json!({"type": "error", "name": name, "value": value, "traceback": ""}))
                .await;
            true
        }
    };
    if let (Some((_, restore)), false) = (&env, outcome.kernel_lost) {
        if let Err(e) = run_silent(kernel, restore).await {
            tracing::warn!("restoring env vars: {e}");
        }
    }
    if kernel.is_dead() {
        outcome.kernel_lost = true;
    }
    let mut end = json!({"type": "end_of_execution"});
    if timed_out && ex.timeout.is_some() {
        end["timed_out"] = json!(true);
    }
    out.emit(end).await;
    outcome
}

/// The execute request proper; returns whether the deadline interrupted it.
async fn execute(kernel: &Kernel, ex: &Execution, out: &Emitter) -> Result<bool, KernelError> {
    let content = json!({
        "code": ex.code, "silent": false, "store_history": true,
        // Executions of a context are already serialised by the agent; with stop_on_error the
        // kernel would abort the request queued right behind a failed (e.g. interrupted) cell,
        // and the caller would see an empty "success".
        "user_expressions": {}, "allow_stdin": false, "stop_on_error": false,
    });
    let (msg_id, mut rx) = kernel.request("execute_request", &content).await?;
    let res = pump(kernel, ex, out, &mut rx).await;
    kernel.forget(&msg_id);
    if matches!(res, Err(KernelError::Unresponsive(_))) {
        kernel.kill();
    }
    res
}

async fn pump(
    kernel: &Kernel,
    ex: &Execution,
    out: &Emitter,
    rx: &mut mpsc::UnboundedReceiver<Reply>,
) -> Result<bool, KernelError> {
    let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let deadline = tokio::time::sleep_until(ex.timeout.map_or(far, |t| Instant::now() + t));
    tokio::pin!(deadline);
    let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
    let (mut interrupted, mut client_gone, mut timed_out) = (false, false, false);
    let (mut idle, mut reply): (bool, Option<Value>) = (false, None);
    let mut error_sent = false;
    let mut reply_wait = std::pin::pin!(tokio::time::sleep(Duration::from_secs(0)));
    loop {
        tokio::select! {
            r = rx.recv() => {
                let Some(r) = r else { return Err(KernelError::Died) };
                match r {
                    Reply::Shell(m) if m.msg_type == "execute_reply" => reply = Some(m.content),
                    Reply::Shell(_) => {}
                    Reply::Iopub(m) => {
                        let c = &m.content;
                        let line = match m.msg_type.as_str() {
                            "execute_input" => c.get("execution_count").map(|n| {
                                json!({"type": "number_of_executions", "execution_count": n})
                            }),
                            "stream" => {
                                let kind = if c["name"] == "stderr" { "stderr" } else { "stdout" };
                                let text = c.get("text").and_then(Value::as_str).unwrap_or("");
                                Some(json!({"type": kind, "text": text, "timestamp": timestamp()}))
                            }
                            "execute_result" | "display_data" | "update_display_data" => {
                                c.get("data").and_then(Value::as_object).map(|d| {
                                    result_line(d, m.msg_type == "execute_result")
                                })
                            }
                            "error" => {
                                error_sent = true;
                                Some(error_line(c))
                            }
                            "status" if c["execution_state"] == "idle" => {
                                idle = true;
                                // Replies usually precede idle; give a late one a moment.
                                reply_wait.as_mut().reset(Instant::now() + Duration::from_millis(500));
                                None
                            }
                            _ => None,
                        };
                        if let Some(line) = line {
                            if !client_gone && !out.emit(line).await {
                                client_gone = true;
                            }
                        }
                    }
                }
            }
            _ = keepalive.tick() => {
                if !client_gone && !out.emit(json!({"type": "keepalive"})).await {
                    client_gone = true;
                }
            }
            _ = &mut deadline, if interrupted || ex.timeout.is_some() => {
                if interrupted {
                    return Err(KernelError::Unresponsive(INTERRUPT_GRACE.as_secs()));
                }
                timed_out = true;
                interrupted = true;
                kernel.interrupt().await;
                deadline.as_mut().reset(Instant::now() + INTERRUPT_GRACE);
                continue;
            }
            // A client that hangs up cancels its execution, as the E2B server does.
            _ = out.closed(), if !client_gone => client_gone = true,
            _ = &mut reply_wait, if idle => break,
        }
        if client_gone && !interrupted {
            interrupted = true;
            kernel.interrupt().await;
            deadline.as_mut().reset(Instant::now() + INTERRUPT_GRACE);
        }
        if idle && reply.is_some() {
            break;
        }
    }
    // Some kernels report a failure only in the reply.
    if let Some(r) = reply {
        if r["status"] == "error" && !error_sent && !client_gone {
            out.emit(error_line(&r)).await;
        }
        // An aborted cell never ran: say so rather than report an empty success.
        if r["status"] == "aborted" && !client_gone {
            out.emit(json!({
                "type": "error",
                "name": "ExecutionAborted",
                "value": "the kernel aborted this execution without running it; run it again",
                "traceback": "",
            }))
            .await;
        }
    }
    Ok(timed_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_mapping() {
        let data = json!({
            "text/plain": "'hi'", "image/png": "iVBOR\nw0K", "application/json": {"a": 1},
            "application/vnd.custom": "x", "text/html": ["<b>", "x</b>"]
        });
        let line = result_line(data.as_object().expect("object"), true);
        assert_eq!(line["type"], "result");
        assert_eq!(line["is_main_result"], true);
        assert_eq!(line["text"], "hi");
        assert_eq!(line["png"], "iVBORw0K");
        assert_eq!(line["json"]["a"], 1);
        assert_eq!(line["html"], "<b>x</b>");
        assert_eq!(line["extra"]["application/vnd.custom"], "x");
        assert!(line.get("svg").is_none());
    }

    #[test]
    fn quotes_and_errors() {
        assert_eq!(strip_quotes("'a'"), "a");
        assert_eq!(strip_quotes("\"a\""), "a");
        assert_eq!(strip_quotes("'a\""), "'a\"");
        assert_eq!(strip_quotes("42"), "42");
        let e = error_line(&json!({"ename": "NameError", "evalue": "x", "traceback": ["a", "b"]}));
        assert_eq!(
            e,
            json!({"type": "error", "name": "NameError", "value": "x", "traceback": "a\nb"})
        );
    }

    #[test]
    fn python_env_code_is_a_literal() {
        let env = BTreeMap::from([("A".to_string(), "it's \"q\"".to_string())]);
        let (set, restore) = env_code("python", &env).expect("python");
        assert!(set.contains(r#"_cove_os.environ.update({"A":"it's \"q\""})"#));
        assert!(restore.contains("_cove_env_saved"));
        assert!(env_code("fortran", &env).is_none());
    }
}
