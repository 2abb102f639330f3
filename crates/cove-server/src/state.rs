//! Shared state handed to every handler.

use cove_core::{KeyService, SandboxService};

/// What handlers can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) sandboxes: SandboxService,
    pub(crate) keys: KeyService,
}
