//! Shared state handed to every handler.

use cove_core::{KeyService, SandboxService};

/// What handlers can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) sandboxes: SandboxService,
    pub(crate) keys: KeyService,
    /// Domain of sandbox hosts (`{port}-{id}.{domain}`), also reported to E2B clients.
    pub(crate) domain: String,
}
