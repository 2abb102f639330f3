//! Messages of the envd `process.Process` service (`proto/process.proto`) in proto3 JSON form.
//! Oneofs are structs with one `Option` per variant, of which exactly one is set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

proto_enum! {
    /// Signals a client may send to a process.
    pub enum Signal {
        Unspecified = 0 => "SIGNAL_UNSPECIFIED",
        Sigterm = 15 => "SIGNAL_SIGTERM",
        Sigkill = 9 => "SIGNAL_SIGKILL",
    }
}

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessConfig {
    pub cmd: String,
    pub args: Vec<String>,
    pub envs: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// Pseudo-terminal request (proto `PTY`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Pty {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<PtySize>,
}

/// Terminal size (proto `PTY.Size`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PtySize {
    #[serde(deserialize_with = "crate::num::deserialize")]
    pub cols: u32,
    #[serde(deserialize_with = "crate::num::deserialize")]
    pub rows: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pty: Option<Pty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `Some(false)`: stdin is /dev/null; `Some(true)` or `None`: a pipe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<ProcessEvent>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<ProcessEvent>,
}

/// One event of a process stream (oneof `event`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<StartEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<EndEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<KeepAlive>,
}

impl ProcessEvent {
    pub fn start(pid: u32) -> Self {
        ProcessEvent {
            start: Some(StartEvent { pid }),
            ..Default::default()
        }
    }

    pub fn data(data: DataEvent) -> Self {
        ProcessEvent {
            data: Some(data),
            ..Default::default()
        }
    }

    pub fn end(end: EndEvent) -> Self {
        ProcessEvent {
            end: Some(end),
            ..Default::default()
        }
    }

    pub fn keepalive() -> Self {
        ProcessEvent {
            keepalive: Some(KeepAlive {}),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartEvent {
    #[serde(deserialize_with = "crate::num::deserialize")]
    pub pid: u32,
}

/// A chunk of output (oneof `output`): raw bytes, base64 in JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataEvent {
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::b64::option")]
    pub stdout: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::b64::option")]
    pub stderr: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::b64::option")]
    pub pty: Option<Vec<u8>>,
}

/// How a process ended, following Go's `os/exec` conventions: a signal death is exit code -1 with
/// `exited` false and status `signal: killed`; `error` is absent on success.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndEvent {
    #[serde(deserialize_with = "crate::num::deserialize")]
    pub exit_code: i32,
    pub exited: bool,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeepAlive {}

/// Which process a call targets (oneof `selector`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessSelector {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::num::option::deserialize"
    )]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl ProcessSelector {
    pub fn pid(pid: u32) -> Self {
        ProcessSelector {
            pid: Some(pid),
            tag: None,
        }
    }

    pub fn tag(tag: impl Into<String>) -> Self {
        ProcessSelector {
            pid: None,
            tag: Some(tag.into()),
        }
    }
}

/// Input for a process (oneof `input`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessInput {
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::b64::option")]
    pub stdin: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none", with = "crate::b64::option")]
    pub pty: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SendInputRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSelector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<ProcessInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SendInputResponse {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SendSignalRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSelector>,
    pub signal: Signal,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SendSignalResponse {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CloseStdinRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CloseStdinResponse {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSelector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pty: Option<Pty>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateResponse {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListRequest {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListResponse {
    pub processes: Vec<ProcessInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ProcessConfig>,
    #[serde(deserialize_with = "crate::num::deserialize")]
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// One message of the client-streaming `StreamInput` call (oneof `event`): a `start` selecting the
/// process first, then `data` messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StreamInputRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<StreamInputStart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<StreamInputData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<KeepAlive>,
}

/// Proto `StreamInputRequest.StartEvent`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StreamInputStart {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSelector>,
}

/// Proto `StreamInputRequest.DataEvent`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StreamInputData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<ProcessInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StreamInputResponse {}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_json<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }

    #[test]
    fn captured_start_request() {
        let req: StartRequest = serde_json::from_str(
            r#"{"process":{"cmd":"/bin/bash","args":["-l","-c","echo hello"],"envs":{"X":"y"},"cwd":"/tmp"},"stdin":false,"unknownField":1}"#,
        )
        .unwrap_or_default();
        let p = req.process.clone().unwrap_or_default();
        assert_eq!(p.cmd, "/bin/bash");
        assert_eq!(p.args, ["-l", "-c", "echo hello"]);
        assert_eq!(p.envs.get("X").map(String::as_str), Some("y"));
        assert_eq!(p.cwd.as_deref(), Some("/tmp"));
        assert_eq!(req.stdin, Some(false));
        assert!(req.pty.is_none());

        let pty: StartRequest = serde_json::from_str(
            r#"{"process":{"cmd":"/bin/bash"},"pty":{"size":{"cols":80,"rows":"24"}}}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            pty.pty.and_then(|p| p.size),
            Some(PtySize { cols: 80, rows: 24 })
        );
    }

    #[test]
    fn events_match_captured_json() {
        assert_eq!(
            to_json(&StartResponse {
                event: Some(ProcessEvent::start(42))
            }),
            r#"{"event":{"start":{"pid":42}}}"#
        );
        assert_eq!(to_json(&ProcessEvent::keepalive()), r#"{"keepalive":{}}"#);
        let data = ProcessEvent::data(DataEvent {
            stdout: Some(b"hello\n".to_vec()),
            ..Default::default()
        });
        assert_eq!(to_json(&data), r#"{"data":{"stdout":"aGVsbG8K"}}"#);
        let end = ProcessEvent::end(EndEvent {
            exit_code: 1,
            exited: true,
            status: "exit status 1".into(),
            error: Some("exit status 1".into()),
        });
        assert_eq!(
            to_json(&end),
            r#"{"end":{"exitCode":1,"exited":true,"status":"exit status 1","error":"exit status 1"}}"#
        );
        let back: ProcessEvent = serde_json::from_str(
            r#"{"end":{"exitCode":-1,"status":"signal: killed","error":"signal: killed"}}"#,
        )
        .unwrap_or_default();
        assert_eq!(back.end.map(|e| (e.exit_code, e.exited)), Some((-1, false)));
    }

    #[test]
    fn selectors_inputs_and_signals() {
        let req: SendInputRequest =
            serde_json::from_str(r#"{"process":{"pid":42},"input":{"stdin":"ZGF0YQ=="}}"#)
                .unwrap_or_default();
        assert_eq!(req.process, Some(ProcessSelector::pid(42)));
        assert_eq!(
            req.input.and_then(|i| i.stdin).as_deref(),
            Some(&b"data"[..])
        );

        let sig: SendSignalRequest =
            serde_json::from_str(r#"{"process":{"pid":"42"},"signal":"SIGNAL_SIGKILL"}"#)
                .unwrap_or_default();
        assert_eq!(sig.signal, Signal::Sigkill);
        assert_eq!(sig.process, Some(ProcessSelector::pid(42)));
        let num: SendSignalRequest = serde_json::from_str(r#"{"signal":15}"#).unwrap_or_default();
        assert_eq!(num.signal, Signal::Sigterm);
        assert_eq!(
            to_json(&SendSignalRequest {
                process: Some(ProcessSelector::tag("t")),
                signal: Signal::Sigkill
            }),
            r#"{"process":{"tag":"t"},"signal":"SIGNAL_SIGKILL"}"#
        );
        assert!(serde_json::from_str::<SendSignalRequest>(r#"{"signal":"SIGNAL_NOPE"}"#).is_err());

        let si: StreamInputRequest =
            serde_json::from_str(r#"{"data":{"input":{"stdin":"YQ=="}}}"#).unwrap_or_default();
        assert_eq!(
            si.data.and_then(|d| d.input).and_then(|i| i.stdin),
            Some(b"a".to_vec())
        );
    }

    #[test]
    fn list_response() {
        let resp = ListResponse {
            processes: vec![ProcessInfo {
                config: Some(ProcessConfig {
                    cmd: "/bin/bash".into(),
                    args: vec!["-l".into()],
                    ..Default::default()
                }),
                pid: 42,
                tag: None,
            }],
        };
        assert_eq!(
            to_json(&resp),
            r#"{"processes":[{"config":{"cmd":"/bin/bash","args":["-l"],"envs":{}},"pid":42}]}"#
        );
    }
}
