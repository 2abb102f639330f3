//! Creating a sandbox: validate, record, boot the container, wait for the agent, configure it,
//! then apply the request's files and setup commands.

use super::exec::{ExecCommand, ExecSpec};
use super::{end_at_from, Live, SandboxService};
use crate::error::{CoreError, CoreResult};
use crate::metrics::{self, InFlight, Phase};
use crate::templates::{Template, BASE_TEMPLATE};
use chrono::Utc;
use cove_agent_client::{AgentClient, InitRequest, UnixTransport};
use cove_runtime::SandboxSpec;
use cove_store::SandboxRecord;
use cove_types::layout::{AGENT_SOCKET_NAME, SANDBOX_AGENT_SOCKET_DIR};
use cove_types::{ErrorCode, Limits, SandboxState};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A create request after the surface parsed it.
#[derive(Debug, Clone, Default)]
pub struct CreateSandbox {
    /// Template id or name (default `base`).
    pub template_id: Option<String>,
    /// Name (generated when absent).
    pub name: Option<String>,
    /// Auto-kill timeout in seconds (default from config; 0 = never).
    pub timeout_secs: Option<u64>,
    /// Labels.
    pub metadata: BTreeMap<String, String>,
    /// Global env.
    pub envs: BTreeMap<String, String>,
    /// CPU cores.
    pub cpu_count: Option<u64>,
    /// Memory MiB.
    pub memory_mb: Option<u64>,
    /// Disk MiB.
    pub disk_mb: Option<u64>,
    /// Files to write after start.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Setup commands.
    pub setup: Vec<String>,
}

/// Longest a single setup command may run.
const SETUP_TIMEOUT_MS: u64 = 10 * 60 * 1000;

pub(crate) fn validate_env_key(k: &str) -> CoreResult<()> {
    if k.is_empty() || k.contains('=') || k.contains('\0') {
        return Err(CoreError::invalid(format!(
            "invalid environment variable name {k:?}: must be non-empty without '=' or NUL"
        )));
    }
    Ok(())
}

fn validate(req: &CreateSandbox) -> CoreResult<()> {
    if let Some(n) = &req.name {
        cove_types::validate_name(n).map_err(|e| CoreError::invalid(format!("name: {e}")))?;
    }
    for (k, v) in &req.envs {
        validate_env_key(k)?;
        if v.contains('\0') {
            return Err(CoreError::invalid(format!("envs.{k}: value contains NUL")));
        }
    }
    for k in req.metadata.keys() {
        if k.is_empty() || k.len() > 256 {
            return Err(CoreError::invalid(
                "metadata keys must be 1..256 characters",
            ));
        }
    }
    for p in req.files.keys() {
        if p.is_empty() || p.contains('\0') {
            return Err(CoreError::invalid(format!("files: invalid path {p:?}")));
        }
    }
    if req.setup.iter().any(|c| c.trim().is_empty()) {
        return Err(CoreError::invalid("setup: commands must not be empty"));
    }
    Ok(())
}

impl SandboxService {
    /// Creates a sandbox and returns it running.
    #[tracing::instrument(skip_all, fields(sandbox_id))]
    pub async fn create(&self, req: CreateSandbox) -> CoreResult<SandboxRecord> {
        let started = Instant::now();
        let _booting = InFlight::booting();
        validate(&req)?;
        let template = self
            .inner
            .catalog
            .resolve(req.template_id.as_deref().unwrap_or(BASE_TEMPLATE))
            .await?;
        let limits = Limits::resolve(template.limits, req.cpu_count, req.memory_mb, req.disk_mb)
            .map_err(|e| CoreError::invalid(e.to_string()))?;
        let timeout_secs = req
            .timeout_secs
            .unwrap_or(self.inner.cfg.default_timeout_secs);
        let end_at = end_at_from(timeout_secs)?;
        let pooled = self.claim_pooled(&template, limits).await;
        let id = pooled
            .as_ref()
            .map(|p| p.id.clone())
            .unwrap_or_else(cove_types::new_sandbox_id);
        tracing::Span::current().record("sandbox_id", id.as_str());
        let name = req
            .name
            .clone()
            .unwrap_or_else(|| format!("sb-{}", &id[..8]));
        let mut envs = template.envs.clone();
        envs.extend(req.envs.clone());
        let mut rec = SandboxRecord {
            id: id.clone(),
            name,
            template_id: template.id.clone(),
            state: SandboxState::Booting,
            metadata: req.metadata.clone(),
            envs: envs.clone(),
            cpu_count: limits.cpu_count,
            memory_mb: limits.memory_mb,
            disk_mb: limits.disk_mb,
            timeout_secs,
            created_at: Utc::now(),
            started_at: None,
            end_at,
            ended_at: None,
            error: None,
            access_token: pooled
                .as_ref()
                .map(|p| p.token.clone())
                .unwrap_or_else(|| cove_types::new_secret(32)),
            pid: None,
        };
        let t_insert = Instant::now();
        let inserted = self.inner.store.insert_sandbox(&rec).await;
        if inserted.is_err() {
            if let Some(p) = &pooled {
                // It never served anyone, but it is simplest and safest not to reuse it.
                self.destroy_unrecorded(&p.id).await;
            }
        }
        inserted.map_err(|e| {
            let e = CoreError::from(e);
            if e.code() == ErrorCode::AlreadyExists {
                CoreError::new(
                    ErrorCode::AlreadyExists,
                    format!("name '{}' is used by a live sandbox", rec.name),
                )
            } else {
                e
            }
        })?;
        metrics::phase(Phase::StoreInsert, t_insert.elapsed());
        let from_pool = pooled.is_some();
        self.inner.events.record(
            &id,
            "created",
            format!(
                "template {}{}",
                template.id,
                if from_pool { " (from warm pool)" } else { "" }
            ),
        );
        let booted = match pooled {
            Some(p) => self.claim(&mut rec, p, &req.envs).await,
            None => self.boot(&mut rec, &template, limits).await,
        };
        match booted {
            Ok(live) => {
                self.inner.events.record(&id, "running", "agent ready");
                // A pooled sandbox started its template process when the pool booted it.
                let started_process = if from_pool {
                    Ok(())
                } else {
                    self.start_template_process(&live, &template).await
                };
                let res = match started_process {
                    Ok(()) => self.provision(&live, &req).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = res {
                    let msg = e.message().to_string();
                    self.teardown(
                        &id,
                        SandboxState::Error,
                        Some(format!("setup failed: {msg}")),
                    )
                    .await;
                    metrics::create_failed();
                    return Err(e);
                }
                metrics::CREATE.observe(started.elapsed());
                Ok(rec)
            }
            Err(e) => {
                let msg = if e.code() == ErrorCode::Internal {
                    tracing::error!(sandbox_id = %id, error = %e, "sandbox failed to boot");
                    "sandbox failed to boot".to_string()
                } else {
                    e.message().to_string()
                };
                self.teardown(
                    &id,
                    SandboxState::Error,
                    Some(format!("boot failed: {}", e.message())),
                )
                .await;
                metrics::create_failed();
                Err(CoreError::unavailable(msg))
            }
        }
    }

    /// Starts a container for `id`, waits for its agent and configures it with `/init`. Nothing
    /// is recorded: callers decide whether the sandbox is a user's (`boot`) or a pool's.
    pub(crate) async fn start_container(
        &self,
        id: &str,
        token: &str,
        template: &Template,
        limits: Limits,
        envs: &std::collections::BTreeMap<String, String>,
    ) -> CoreResult<(AgentClient, u32)> {
        let spec = SandboxSpec {
            id: id.to_string(),
            rootfs: template.rootfs.clone(),
            agent_binary: self.inner.cfg.agent_binary.clone(),
            init_args: vec![
                "--socket".into(),
                format!("{SANDBOX_AGENT_SOCKET_DIR}/{AGENT_SOCKET_NAME}"),
            ],
            init_env: vec![],
            limits,
            network: cove_runtime::Network::Isolated,
        };
        let runtime = self.inner.runtime.clone();
        let t_runtime = Instant::now();
        let created = tokio::task::spawn_blocking(move || runtime.create(&spec))
            .await
            .map_err(|e| CoreError::internal(format!("runtime task: {e}")))??;
        let d_runtime = t_runtime.elapsed();
        let client = AgentClient::new(
            Arc::new(UnixTransport::new(created.socket_path.clone())),
            Some(token.to_string()),
        );
        let t_ready = Instant::now();
        wait_ready(&client, self.inner.cfg.boot_timeout).await?;
        let d_ready = t_ready.elapsed();
        let t_init = Instant::now();
        client
            .init(&InitRequest {
                env_vars: envs.clone(),
                access_token: Some(token.to_string()),
                default_user: Some(template.user.clone()),
                default_workdir: Some(template.workdir.clone()),
            })
            .await?;
        let d_init = t_init.elapsed();
        metrics::phase(Phase::Runtime, d_runtime);
        metrics::phase(Phase::AgentReady, d_ready);
        metrics::phase(Phase::Init, d_init);
        // One line per boot with the split, so a profile needs only `COVE_LOG=cove_core=debug`
        // (the runtime's own line splits `runtime_ms` further).
        tracing::debug!(
            sandbox_id = %id,
            runtime_ms = d_runtime.as_secs_f64() * 1e3,
            agent_ready_ms = d_ready.as_secs_f64() * 1e3,
            init_ms = d_init.as_secs_f64() * 1e3,
            "sandbox booted"
        );
        Ok((client, created.pid))
    }

    /// Starts the container, waits for its agent and records it running.
    async fn boot(
        &self,
        rec: &mut SandboxRecord,
        template: &Template,
        limits: Limits,
    ) -> CoreResult<Arc<Live>> {
        let (client, pid) = self
            .start_container(&rec.id, &rec.access_token, template, limits, &rec.envs)
            .await?;
        let live = self.mark_running(rec, client, pid).await?;
        self.watch(rec.id.clone(), pid);
        Ok(live)
    }

    /// Records a booted sandbox as running and makes it reachable.
    async fn mark_running(
        &self,
        rec: &mut SandboxRecord,
        client: AgentClient,
        pid: u32,
    ) -> CoreResult<Arc<Live>> {
        rec.state = SandboxState::Running;
        rec.started_at = Some(Utc::now());
        rec.pid = Some(pid);
        let t_update = Instant::now();
        self.inner.store.update_sandbox(rec).await?;
        metrics::phase(Phase::StoreUpdate, t_update.elapsed());
        let live = Arc::new(Live {
            id: rec.id.clone(),
            client,
            token: rec.access_token.clone(),
            commands: Default::default(),
            end_at: Mutex::new(rec.end_at),
        });
        if let Ok(mut m) = self.inner.live.write() {
            m.insert(rec.id.clone(), live.clone());
        }
        Ok(live)
    }

    /// Turns an idle pooled sandbox into this request's sandbox: record it, apply the request's
    /// envs through `/init`, make it live. Its death monitor has been running since the pool
    /// booted it.
    async fn claim(
        &self,
        rec: &mut SandboxRecord,
        pooled: super::pool::PooledSandbox,
        req_envs: &std::collections::BTreeMap<String, String>,
    ) -> CoreResult<Arc<Live>> {
        if !req_envs.is_empty() {
            pooled
                .client
                .init(&InitRequest {
                    env_vars: req_envs.clone(),
                    ..Default::default()
                })
                .await?;
        }
        self.mark_running(rec, pooled.client, pooled.pid).await
    }

    /// Writes the request's files and runs its setup commands, logging their output.
    async fn provision(&self, live: &Live, req: &CreateSandbox) -> CoreResult<()> {
        for (path, content) in &req.files {
            let bytes = bytes::Bytes::from(content.clone());
            let stream = futures_util::stream::once(async move { Ok(bytes) });
            live.client.upload(path, None, stream).await.map_err(|e| {
                let e = CoreError::from(e);
                CoreError::new(e.code(), format!("files: {path}: {}", e.message()))
            })?;
        }
        for (i, cmd) in req.setup.iter().enumerate() {
            let out = self
                .exec_on(
                    live,
                    ExecSpec {
                        command: ExecCommand::Shell(cmd.clone()),
                        timeout_ms: Some(SETUP_TIMEOUT_MS),
                        ..Default::default()
                    },
                )
                .await?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            self.inner.events.record(
                &live.id,
                "setup",
                format!("$ {cmd}\n{stdout}{stderr}[exit code {}]", out.exit_code),
            );
            if out.exit_code != 0 || out.timed_out {
                return Err(CoreError::invalid(format!(
                    "setup command {} ({cmd:?}) {}; stdout: {stdout:?}; stderr: {stderr:?}",
                    i + 1,
                    if out.timed_out {
                        "timed out".to_string()
                    } else {
                        format!("exited with code {}", out.exit_code)
                    }
                )));
            }
        }
        Ok(())
    }
}

/// Polls the agent until it answers `/health`. The socket appears a few ms after init starts, so a
/// short fixed backoff is cheaper than an inotify watch on the socket dir.
async fn wait_ready(client: &AgentClient, timeout: Duration) -> CoreResult<()> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(500);
    loop {
        match client.health().await {
            Ok(()) => return Ok(()),
            Err(e) if start.elapsed() >= timeout => {
                return Err(CoreError::internal(format!(
                    "agent did not answer within {timeout:?}: {e}"
                )))
            }
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(20));
            }
        }
    }
}
