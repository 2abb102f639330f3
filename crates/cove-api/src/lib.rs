//! Cove's public HTTP contract for the native `/v1` API: request and response shapes (serde +
//! OpenAPI schemas), the error envelope with its status table, and the API version. The server and
//! the client both depend on this crate, so the wire shapes are defined exactly once.

mod error;
mod files;
mod health;
mod keys;
mod sandbox;

pub use error::{status_for, ErrorBody, ErrorDetail};
pub use files::{
    DirListing, FileContent, FileEntry, MkdirRequest, RenameRequest, WriteFile, WriteFilesRequest,
    WriteFilesResponse,
};
pub use health::Health;
pub use keys::{ApiKey, ApiKeyList, CreateApiKeyRequest, CreatedApiKey};
pub use sandbox::{
    CreateSandboxRequest, ExecRequest, ExecResponse, LogEntry, LogsResponse, Sandbox, SandboxList,
    SetTimeoutRequest, EXEC_OUTPUT_CAP_BYTES,
};

/// Prefix of every native route.
pub const API_PREFIX: &str = "/v1";
