//! Client side of the agent protocol: how the control plane talks to the `cove-agent` inside a
//! sandbox (the E2B envd protocol, Connect + JSON over HTTP/1.1).
//!
//! The transport sits behind [`Transport`]: today a Unix socket bind-mounted out of the sandbox
//! ([`UnixTransport`]); vsock (microVMs) and TCP (pods) are further implementations. Callers see typed
//! messages and byte streams, never HTTP types, so `cove-core` stays transport-agnostic.

mod client;
mod code;
mod error;
mod transport;

pub use client::{AgentClient, ByteStream, EventStream, InitRequest, Tunnel, UploadedEntry};
pub use code::{
    CodeContext, CodeEvent, CodeEventStream, CodeExecuteRequest, CodeLanguage, CodeResult,
};
pub use error::{AgentError, AgentResult};
pub use transport::{AgentBody, Transport, UnixTransport};
