//! The sandbox lifecycle service. One file per operation; this module holds the shared state.
//!
//! Invariants:
//! - the store is the source of truth for what exists; `live` caches agent clients of sandboxes in
//!   `running` state so the exec/files path does not touch the database;
//! - removing a sandbox from `live` is the commit point of a kill: whoever removes it tears it down,
//!   so the reaper, a DELETE and the death monitor never race each other into a double teardown.

mod code;
mod commands;
mod create;
mod delete;
mod exec;
mod files;
mod git;
mod keepalive;
mod monitor;
mod pool;
mod reaper;
mod reconcile;
mod route;
mod route_signed;
mod shell;
mod template_info;

pub use code::{
    CodeContext, CodeError, CodeEvent, CodeLanguage, CodeOutput, CodeResult, CodeSpec, CodeStream,
    DEFAULT_CODE_TIMEOUT_MS,
};
pub use commands::{
    parse_signal, CommandLogReader, CommandOutput, CommandStatus, OutputChunk, OutputStream,
    RETAINED_OUTPUT_BYTES,
};
pub use create::CreateSandbox;
pub use exec::{ExecCommand, ExecEvent, ExecExit, ExecOutput, ExecSpec, ExecStream};
pub use files::{DirEntry, EntryKind};
pub use git::{Cloned, GitClone};
pub use pool::{PoolSettings, PoolStatus, PooledSandbox, MAX_POOL_SIZE};
pub use route::AgentRoute;
pub use shell::{ShellEvent, ShellSession, ShellSpec};

use crate::error::{CoreError, CoreResult};
use crate::events::EventLog;
use crate::templates::Catalog;
use chrono::{DateTime, Utc};
use cove_agent_client::AgentClient;
use cove_runtime::Runtime;
use cove_store::{EventRecord, SandboxFilter, SandboxPage, SandboxRecord, Store, StoreError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Settings of the sandbox service.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Root for templates (`<data>/templates`).
    pub templates_dir: PathBuf,
    /// Host path of the static agent binary.
    pub agent_binary: PathBuf,
    /// How long a new sandbox's agent has to answer.
    pub boot_timeout: Duration,
    /// Auto-kill timeout when a create names none.
    pub default_timeout_secs: u64,
    /// Where warm-pool settings persist (`<data>/pools.json`).
    pub pools_file: PathBuf,
}

/// A running sandbox as the data path needs it.
pub(crate) struct Live {
    pub(crate) id: String,
    pub(crate) client: AgentClient,
    pub(crate) token: String,
    pub(crate) commands: commands::Commands,
    pub(crate) end_at: Mutex<Option<DateTime<Utc>>>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) cfg: CoreConfig,
    pub(crate) catalog: Catalog,
    pub(crate) events: EventLog,
    pub(crate) live: RwLock<HashMap<String, Arc<Live>>>,
    pub(crate) pools: pool::Pools,
}

/// Sandbox use cases. Cheap to clone.
#[derive(Clone)]
pub struct SandboxService {
    pub(crate) inner: Arc<Inner>,
}

impl SandboxService {
    /// Builds the service, composes the base template, reconciles the store with the runtime (so
    /// sandboxes that survived a restart are reattached) and starts the reaper.
    pub async fn start(
        store: Arc<dyn Store>,
        runtime: Arc<dyn Runtime>,
        cfg: CoreConfig,
    ) -> CoreResult<Self> {
        let catalog = Catalog::init(store.clone(), &cfg.templates_dir).await?;
        let events = EventLog::start(store.clone());
        let svc = Self {
            inner: Arc::new(Inner {
                store,
                runtime,
                cfg,
                catalog,
                events,
                live: RwLock::new(HashMap::new()),
                pools: pool::Pools::default(),
            }),
        };
        svc.reconcile().await?;
        reaper::spawn(svc.clone());
        svc.start_pools();
        Ok(svc)
    }

    /// The sandbox with this id or name.
    pub async fn get(&self, id_or_name: &str) -> CoreResult<SandboxRecord> {
        if cove_types::is_sandbox_id(id_or_name) {
            match self.inner.store.get_sandbox(id_or_name).await {
                Ok(r) => return Ok(r),
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match self.inner.store.get_sandbox_by_name(id_or_name).await {
            Ok(r) => Ok(r),
            Err(StoreError::NotFound { .. }) => Err(CoreError::not_found(format!(
                "sandbox '{id_or_name}' not found"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// A page of sandboxes.
    pub async fn list(&self, filter: &SandboxFilter) -> CoreResult<SandboxPage> {
        match self.inner.store.list_sandboxes(filter).await {
            Ok(p) => Ok(p),
            Err(StoreError::NotFound {
                entity: "cursor", ..
            }) => Err(CoreError::invalid(
                "cursor is not valid; pass nextCursor from a previous page",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The sandbox's lifecycle log.
    pub async fn logs(&self, id_or_name: &str) -> CoreResult<Vec<EventRecord>> {
        let rec = self.get(id_or_name).await?;
        Ok(self.inner.store.list_events(&rec.id).await?)
    }

    /// Resets the auto-kill timer: `secs` from now, or never when 0.
    pub async fn set_timeout(&self, id_or_name: &str, secs: u64) -> CoreResult<SandboxRecord> {
        let mut rec = self.get(id_or_name).await?;
        let live = self.live(&rec)?;
        let end_at = end_at_from(secs)?;
        rec.end_at = end_at;
        rec.timeout_secs = secs;
        self.inner.store.update_sandbox(&rec).await?;
        if let Ok(mut e) = live.end_at.lock() {
            *e = end_at;
        }
        Ok(rec)
    }

    /// The live handle of a running sandbox, or a precise error for any other state.
    pub(crate) fn live(&self, rec: &SandboxRecord) -> CoreResult<Arc<Live>> {
        if let Some(l) = self
            .inner
            .live
            .read()
            .ok()
            .and_then(|m| m.get(&rec.id).cloned())
        {
            return Ok(l);
        }
        Err(CoreError::precondition(format!(
            "sandbox {} is {}{}",
            rec.id,
            rec.state,
            rec.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )))
    }

    /// The agent client of a running sandbox, by id or name.
    pub(crate) async fn agent(&self, id_or_name: &str) -> CoreResult<Arc<Live>> {
        if let Some(l) = self
            .inner
            .live
            .read()
            .ok()
            .and_then(|m| m.get(id_or_name).cloned())
        {
            return Ok(l);
        }
        let rec = self.get(id_or_name).await?;
        self.live(&rec)
    }
}

/// Deadline `secs` from now (`None` for 0), refusing absurd values.
pub(crate) fn end_at_from(secs: u64) -> CoreResult<Option<DateTime<Utc>>> {
    const MAX: u64 = 366 * 24 * 3600;
    if secs == 0 {
        return Ok(None);
    }
    if secs > MAX {
        return Err(CoreError::invalid(format!(
            "timeoutSeconds must be at most {MAX} (one year), or 0 for no timeout"
        )));
    }
    Ok(Some(Utc::now() + chrono::Duration::seconds(secs as i64)))
}
