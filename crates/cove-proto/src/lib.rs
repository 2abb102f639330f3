//! Wire types shared by the Cove control plane and the in-sandbox agent: the E2B envd protocol
//! (Connect RPC with the JSON codec). The `.proto` files under `proto/` are the documented contract;
//! the Rust side uses hand-written serde types that follow proto3's canonical JSON mapping so that no
//! protoc step is needed and the JSON matches what the official E2B SDKs send and expect.

// Declared first: textual macro scoping makes `proto_enum!` visible only to later modules.
#[macro_use]
mod enums;

pub mod b64;
pub mod code;
pub mod envelope;
pub mod filesystem;
pub mod i64_str;
pub mod num;
pub mod process;

pub use code::{Code, ConnectError, EndStream, UnknownCode};
pub use envelope::{EnvelopeDecoder, EnvelopeError, Frame, FLAG_COMPRESSED, FLAG_END_STREAM};

/// envd version the agent reports; at least 0.6.4 turns on every SDK feature gate, and it must parse
/// as both PEP 440 and semver, so no suffixes.
pub const ENVD_VERSION: &str = "0.6.13";
/// Content type of Connect streaming requests and responses. Python compares it literally, so it
/// must never carry parameters.
pub const CONNECT_JSON: &str = "application/connect+json";
/// Content type of Connect unary calls and of envd's plain HTTP endpoints.
pub const JSON: &str = "application/json";
