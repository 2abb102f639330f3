//! The persistence boundary: the async [`Store`] trait, its row models and [`StoreError`].
//!
//! No driver code lives here; `cove-store-sqlite` (the embedded default) implements the trait and a
//! PostgreSQL implementation will implement the same trait for scale-out. `cove-core` only ever sees
//! this crate, so driver errors never leak past the store.

mod error;
mod model;

pub use error::{StoreError, StoreResult};
pub use model::{
    ApiKeyRecord, EventRecord, SandboxFilter, SandboxPage, SandboxRecord, TemplateRecord,
};

use async_trait::async_trait;

/// Everything Cove persists. Implementations must be safe to share between tasks.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- sandboxes ----

    /// Inserts a new sandbox. `Conflict` when its id exists or its name is taken by a *live*
    /// sandbox (state not `killed`/`error`).
    async fn insert_sandbox(&self, rec: &SandboxRecord) -> StoreResult<()>;
    /// Replaces every mutable column of an existing sandbox (matched by id). `NotFound` if absent;
    /// `Conflict` if a name change collides with another live sandbox.
    async fn update_sandbox(&self, rec: &SandboxRecord) -> StoreResult<()>;
    /// The sandbox with this id. `NotFound` if absent.
    async fn get_sandbox(&self, id: &str) -> StoreResult<SandboxRecord>;
    /// The live sandbox with this name, else the most recently created one with it. `NotFound`
    /// if none.
    async fn get_sandbox_by_name(&self, name: &str) -> StoreResult<SandboxRecord>;
    /// A page of sandboxes, newest first, matching every filter.
    async fn list_sandboxes(&self, filter: &SandboxFilter) -> StoreResult<SandboxPage>;
    /// Every sandbox whose state is live (not `killed`/`error`), in any order.
    async fn list_live_sandboxes(&self) -> StoreResult<Vec<SandboxRecord>>;

    // ---- lifecycle events / logs ----

    /// Appends an event to a sandbox's log; returns the stored record with its id.
    async fn append_event(
        &self,
        sandbox_id: &str,
        kind: &str,
        message: &str,
    ) -> StoreResult<EventRecord>;
    /// The sandbox's events, oldest first.
    async fn list_events(&self, sandbox_id: &str) -> StoreResult<Vec<EventRecord>>;

    // ---- API keys ----

    /// Inserts a key (only its hash is stored). `Conflict` on a duplicate id or hash.
    async fn insert_api_key(&self, rec: &ApiKeyRecord) -> StoreResult<()>;
    /// The key whose SHA-256 hex hash is `hash`. `NotFound` if none.
    async fn find_api_key_by_hash(&self, hash: &str) -> StoreResult<ApiKeyRecord>;
    /// All keys, oldest first.
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;

    // ---- templates ----

    /// Inserts or replaces a template by id. `Conflict` if its name is used by another id.
    async fn upsert_template(&self, rec: &TemplateRecord) -> StoreResult<()>;
    /// The template whose id or name is `id_or_name`. `NotFound` if none.
    async fn get_template(&self, id_or_name: &str) -> StoreResult<TemplateRecord>;
    /// All templates, oldest first.
    async fn list_templates(&self) -> StoreResult<Vec<TemplateRecord>>;
    /// Removes the template with this id. `NotFound` if absent.
    async fn delete_template(&self, id: &str) -> StoreResult<()>;
}
