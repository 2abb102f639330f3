//! The code interpreter: Jupyter kernels managed by the agent, behind E2B's code-interpreter HTTP
//! protocol (`/execute`, `/contexts`). A context is one kernel process with an id, a language and
//! a working directory; each language gets a default context on first use. The same handlers are
//! served on 127.0.0.1:49999 inside the sandbox (where E2B SDKs expect them, without a token) and
//! under `/code` on the agent's socket (token-protected like the rest of the agent API).

mod client;
mod error;
mod exec;
mod http;
mod spec;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

pub use http::{router, spawn_tcp};

use client::Kernel;
use error::KernelError;
use exec::{Emitter, Execution};
use spec::KernelSpec;

use crate::state::Shared;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A context as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContextInfo {
    pub id: String,
    pub language: String,
    pub cwd: String,
}

pub struct Context {
    info: ContextInfo,
    spec: KernelSpec,
    /// The running kernel; replaced on restart or when it died.
    kernel: tokio::sync::Mutex<Option<Arc<Kernel>>>,
    /// Serialises executions: env setup, the cell and env restore must not interleave.
    busy: tokio::sync::Mutex<()>,
    /// Set by delete, so an execution that was waiting for `busy` does not start a kernel that
    /// nothing would ever stop.
    deleted: AtomicBool,
}

impl Context {
    /// The live kernel, starting a new one when there is none or the last one died.
    async fn kernel(&self, app: &Shared) -> Result<Arc<Kernel>, KernelError> {
        let mut slot = self.kernel.lock().await;
        if self.deleted.load(Ordering::SeqCst) {
            return Err(KernelError::ContextNotFound(self.info.id.clone()));
        }
        if let Some(k) = slot.as_ref().filter(|k| !k.is_dead()) {
            return Ok(k.clone());
        }
        let user = app
            .identity(None)
            .map_err(|e| KernelError::Start(e.to_string()))?
            .user;
        let k = Kernel::start(
            app,
            &self.info.id,
            self.spec.clone(),
            user,
            PathBuf::from(&self.info.cwd),
        )
        .await?;
        *slot = Some(k.clone());
        Ok(k)
    }

    async fn stop(&self) {
        if let Some(k) = self.kernel.lock().await.take() {
            k.shutdown().await;
        }
    }
}

#[derive(Default)]
struct Registry {
    contexts: HashMap<String, Arc<Context>>,
    /// language → id of its default context.
    defaults: HashMap<String, String>,
}

pub struct Kernels {
    app: Shared,
    registry: Mutex<Registry>,
    /// Serialises default-context creation so two first requests start one kernel, not two.
    create_default: tokio::sync::Mutex<()>,
}

/// The request of one execution, already validated.
pub struct ExecuteRequest {
    pub code: String,
    pub context_id: Option<String>,
    pub language: Option<String>,
    pub env_vars: BTreeMap<String, String>,
    pub timeout: Option<std::time::Duration>,
}

/// A kernel the sandbox can run.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LanguageInfo {
    pub language: String,
    pub kernel_name: String,
    pub display_name: String,
}

impl Kernels {
    /// The agent's one instance: the socket router and the TCP listener must share contexts.
    pub fn get(app: &Shared) -> Arc<Kernels> {
        static KERNELS: OnceLock<Arc<Kernels>> = OnceLock::new();
        KERNELS
            .get_or_init(|| {
                Arc::new(Kernels {
                    app: app.clone(),
                    registry: Mutex::new(Registry::default()),
                    create_default: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    fn home(&self) -> PathBuf {
        self.app
            .identity(None)
            .map(|i| i.user.home)
            .unwrap_or_else(|_| PathBuf::from("/root"))
    }

    pub fn languages(&self) -> Vec<LanguageInfo> {
        spec::discover(&self.home())
            .into_iter()
            .map(|s| LanguageInfo {
                language: s.language,
                kernel_name: s.name,
                display_name: s.display_name,
            })
            .collect()
    }

    pub fn list(&self) -> Vec<ContextInfo> {
        let mut out: Vec<ContextInfo> = lock(&self.registry)
            .contexts
            .values()
            .map(|c| c.info.clone())
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Creates a context and starts its kernel, so a missing or broken kernel fails here.
    pub async fn create(
        &self,
        language: Option<&str>,
        cwd: Option<&str>,
    ) -> Result<ContextInfo, KernelError> {
        let ctx = self.new_context(language, cwd)?;
        self.start_registered(ctx).await
    }

    fn new_context(
        &self,
        language: Option<&str>,
        cwd: Option<&str>,
    ) -> Result<Arc<Context>, KernelError> {
        let language =
            spec::normalize_language(language.filter(|l| !l.is_empty()).unwrap_or("python"));
        let specs = spec::discover(&self.home());
        let spec = spec::find(&specs, &language)
            .cloned()
            .ok_or_else(|| KernelError::NoKernel(language.clone()))?;
        let id = self
            .app
            .identity(None)
            .map_err(|e| KernelError::Start(e.to_string()))?;
        let cwd = match cwd.filter(|c| !c.is_empty()) {
            Some(c) => id.resolve(c),
            None => id.base.clone(),
        };
        if !cwd.is_dir() {
            return Err(KernelError::BadRequest(format!(
                "cwd '{}' is not a directory",
                cwd.display()
            )));
        }
        Ok(Arc::new(Context {
            info: ContextInfo {
                id: new_id(),
                language,
                cwd: cwd.to_string_lossy().into_owned(),
            },
            spec,
            kernel: tokio::sync::Mutex::new(None),
            busy: tokio::sync::Mutex::new(()),
            deleted: AtomicBool::new(false),
        }))
    }

    async fn start_registered(&self, ctx: Arc<Context>) -> Result<ContextInfo, KernelError> {
        ctx.kernel(&self.app).await?;
        lock(&self.registry)
            .contexts
            .insert(ctx.info.id.clone(), ctx.clone());
        Ok(ctx.info.clone())
    }

    fn find(&self, id: &str) -> Result<Arc<Context>, KernelError> {
        lock(&self.registry)
            .contexts
            .get(id)
            .cloned()
            .ok_or_else(|| KernelError::ContextNotFound(id.to_string()))
    }

    async fn default_context(&self, language: Option<&str>) -> Result<Arc<Context>, KernelError> {
        let lang = spec::normalize_language(language.filter(|l| !l.is_empty()).unwrap_or("python"));
        let _guard = self.create_default.lock().await;
        let existing = {
            let reg = lock(&self.registry);
            reg.defaults
                .get(&lang)
                .and_then(|id| reg.contexts.get(id))
                .cloned()
        };
        if let Some(c) = existing {
            return Ok(c);
        }
        let ctx = self.new_context(Some(&lang), None)?;
        self.start_registered(ctx.clone()).await?;
        lock(&self.registry)
            .defaults
            .insert(lang, ctx.info.id.clone());
        Ok(ctx)
    }

    /// Replaces the context's kernel with a fresh one (all state is lost).
    pub async fn restart(&self, id: &str) -> Result<(), KernelError> {
        let ctx = self.find(id)?;
        ctx.stop().await;
        ctx.kernel(&self.app).await.map(|_| ())
    }

    pub async fn delete(&self, id: &str) -> Result<(), KernelError> {
        let ctx = {
            let mut reg = lock(&self.registry);
            let ctx = reg
                .contexts
                .remove(id)
                .ok_or_else(|| KernelError::ContextNotFound(id.to_string()))?;
            reg.defaults.retain(|_, v| v != id);
            ctx
        };
        ctx.deleted.store(true, Ordering::SeqCst);
        ctx.stop().await;
        Ok(())
    }

    /// Resolves the context (creating a default one if needed) before anything is streamed, so
    /// a bad request still gets a proper status; the execution itself runs in `execute`.
    pub async fn resolve(&self, req: &ExecuteRequest) -> Result<Arc<Context>, KernelError> {
        match (&req.context_id, &req.language) {
            (Some(_), Some(_)) => Err(KernelError::BadRequest(
                "only one of context_id and language may be set".into(),
            )),
            (Some(id), None) => self.find(id),
            (None, lang) => self.default_context(lang.as_deref()).await,
        }
    }

    pub async fn execute(&self, ctx: Arc<Context>, req: ExecuteRequest, out: Emitter) {
        let _busy = ctx.busy.lock().await;
        let kernel = match ctx.kernel(&self.app).await {
            Ok(k) => k,
            Err(e) => {
                out.emit(serde_json::json!({
                    "type": "error", "name": "KernelStartError", "value": e.to_string(), "traceback": ""
                }))
                .await;
                out.emit(serde_json::json!({"type": "end_of_execution"}))
                    .await;
                return;
            }
        };
        let ex = Execution {
            code: req.code,
            env_vars: req.env_vars,
            timeout: req.timeout,
        };
        let outcome = exec::run(&kernel, &ctx.info.language, ex, &out).await;
        if outcome.kernel_lost {
            tracing::warn!(context = %ctx.info.id, "kernel lost; it restarts on next use");
        }
    }
}

/// A UUID-shaped random id, like the ids E2B's contexts have.
fn new_id() -> String {
    let h = wire::random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
