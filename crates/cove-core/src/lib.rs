//! Cove's use cases. [`SandboxService`] owns the sandbox lifecycle (create, exec, files, timeouts,
//! delete), enforces the state machine, reconciles the store with reality after a restart, and
//! reaches every sandbox through its in-sandbox agent (the only data path). [`KeyService`] checks API
//! keys. Nothing here knows about HTTP surfaces or SQL: the store and runtime are traits, and errors
//! leave as [`CoreError`] carrying a shared [`cove_types::ErrorCode`].

mod error;
mod events;
mod keys;
mod metrics;
mod sandbox;
mod templates;

pub use cove_image::recipe::{Base as RecipeBase, CopyStep, Recipe, Step as RecipeStep};
pub use cove_image::registry::Credentials;
pub use cove_runtime::Stats;
pub use error::{CoreError, CoreResult};
pub use keys::KeyService;
pub use sandbox::{
    parse_signal, AgentRoute, Cloned, CommandLogReader, CommandOutput, CommandStatus, CoreConfig,
    CreateSandbox, DirEntry, EntryKind, ExecCommand, ExecEvent, ExecExit, ExecOutput, ExecSpec,
    ExecStream, GitClone, OutputChunk, OutputStream, PoolSettings, PoolStatus, PooledSandbox,
    SandboxService, ShellEvent, ShellSession, ShellSpec, MAX_POOL_SIZE, RETAINED_OUTPUT_BYTES,
};
pub use sandbox::{
    CodeContext, CodeError, CodeEvent, CodeLanguage, CodeOutput, CodeResult, CodeSpec, CodeStream,
    DEFAULT_CODE_TIMEOUT_MS,
};
pub use templates::{TemplateInput, TemplateSpec, TemplateView, BASE_TEMPLATE};
