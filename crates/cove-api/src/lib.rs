//! Cove's public HTTP contract for the native `/v1` API: request and response shapes (serde +
//! OpenAPI schemas), the error envelope with its status table, and the API version. The server and
//! the client both depend on this crate, so the wire shapes are defined exactly once.

mod code;
mod commands;
mod e2b;
mod error;
mod files;
mod health;
mod keys;
mod pool;
mod sandbox;
mod template;

pub use code::{
    CodeContext, CodeError, CodeExecuteRequest, CodeExecuteResponse, CodeLanguage, CodeResult,
    CreateCodeContextRequest,
};
pub use commands::{
    CommandInfo, CommandList, CommandLogs, GitCloneRequest, GitCloneResponse, ShellControl,
    SignalRequest, StartCommandRequest, StdinRequest,
};
pub use e2b::{
    E2bAutoResume, E2bConnectRequest, E2bErrorBody, E2bLifecycle, E2bListedSandbox,
    E2bNetworkConfig, E2bNetworkUpdate, E2bNewSandbox, E2bRefreshRequest, E2bResumeRequest,
    E2bSandbox, E2bSandboxLog, E2bSandboxLogEntry, E2bSandboxLogs, E2bSandboxLogsV2,
    E2bSandboxMetric, E2bSandboxesWithMetrics, E2bTimeoutRequest, E2bVolumeMount, E2B_CLIENT_ID,
    E2B_ENVD_VERSION,
};
pub use error::{status_for, ErrorBody, ErrorDetail};
pub use files::{
    DirListing, FileContent, FileEntry, MkdirRequest, RenameRequest, WriteFile, WriteFilesRequest,
    WriteFilesResponse,
};
pub use health::Health;
pub use keys::{ApiKey, ApiKeyList, CreateApiKeyRequest, CreatedApiKey};
pub use pool::{Pool, PoolList, PooledSandbox, PooledSandboxList, SetPoolRequest};
pub use sandbox::{
    CreateSandboxRequest, ExecRequest, ExecResponse, LogEntry, LogsResponse, Sandbox, SandboxList,
    SetTimeoutRequest, EXEC_OUTPUT_CAP_BYTES,
};

pub use template::{
    CopyStepSpec, CreateTemplateRequest, RecipeFrom, RecipeSpec, RecipeStep, RegistryAuth,
    Template, TemplateList,
};

/// Prefix of every native route.
pub const API_PREFIX: &str = "/v1";
