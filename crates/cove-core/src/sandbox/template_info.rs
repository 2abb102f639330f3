//! Template lookup for surfaces that accept other spellings of a template (E2B's aliases and tags)
//! and need to know whether a candidate exists before creating anything.

use super::SandboxService;
use crate::error::{CoreError, CoreResult};
use cove_store::{StoreError, TemplateRecord};

impl SandboxService {
    /// The template with this id or name.
    pub async fn template(&self, id_or_name: &str) -> CoreResult<TemplateRecord> {
        match self.inner.store.get_template(id_or_name).await {
            Ok(t) => Ok(t),
            Err(StoreError::NotFound { .. }) => Err(CoreError::not_found(format!(
                "template '{id_or_name}' not found"
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
