//! Building a recipe: resolve the base to a stack of layers, then run each step in a throwaway
//! build sandbox (host network, root by default) whose writable layer, captured after the step,
//! becomes the step's layer. Steps are cached by a key chaining the parent key, the step and its
//! context, so a rebuild reuses every step before the first change.

use super::build::image_err;
use super::log::BuildLog;
use super::service::TemplateSpec;
use super::source::Source;
use crate::error::{CoreError, CoreResult};
use crate::sandbox::SandboxService;
use cove_agent_client::{AgentClient, InitRequest, UnixTransport};
use cove_image::recipe::{chain_key, Base, Recipe, Step};
use cove_image::registry::PullRequest;
use cove_image::Imported;
use cove_proto::process::{ProcessConfig, StartRequest};
use cove_runtime::{Network, RootfsSpec, SandboxSpec};
use cove_types::layout::{AGENT_SOCKET_NAME, SANDBOX_AGENT_SOCKET_DIR};
use cove_types::Limits;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a single build step may run.
const STEP_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Resources of a build sandbox: generous, since package installs are the common step.
const BUILD_LIMITS: Limits = Limits {
    cpu_count: 2,
    memory_mb: 4096,
    disk_mb: 16384,
    pids: 4096,
};

/// The outcome of a build.
#[derive(Debug, Clone, Default)]
pub(crate) struct Built {
    /// Layers, topmost first.
    pub(crate) layers: Vec<String>,
    pub(crate) host_base: bool,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) user: Option<String>,
    pub(crate) workdir: Option<String>,
    pub(crate) start: Option<String>,
    pub(crate) ready: Option<String>,
    pub(crate) cmd: Option<Vec<String>>,
}

impl Built {
    pub(crate) fn from_image(img: Imported) -> Self {
        let c = img.config;
        let mut layers = img.layers;
        layers.reverse();
        let env = c
            .env
            .unwrap_or_default()
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cmd = match (c.entrypoint, c.cmd) {
            (Some(mut e), Some(c)) => {
                e.extend(c);
                Some(e)
            }
            (e, c) => e.or(c),
        };
        Self {
            layers,
            env,
            user: c.user.filter(|u| !u.is_empty()),
            workdir: c.working_dir.filter(|w| !w.is_empty()),
            cmd,
            ..Default::default()
        }
    }
}

pub(crate) struct Builder<'a> {
    svc: &'a SandboxService,
    spec: &'a TemplateSpec,
    log: &'a BuildLog,
}

/// What a build sandbox does before its writable layer is captured.
enum Action {
    Shell(String),
    Upload(Vec<(PathBuf, String)>),
}

impl<'a> Builder<'a> {
    pub(crate) fn new(svc: &'a SandboxService, spec: &'a TemplateSpec, log: &'a BuildLog) -> Self {
        Self { svc, spec, log }
    }

    pub(crate) async fn run(&self, r: &Recipe) -> CoreResult<Built> {
        let mut b = self.base(&r.from).await?;
        let mut key = chain_key(&[
            "base",
            &b.layers.join(","),
            if b.host_base { "host" } else { "" },
        ]);
        let n = r.steps.len();
        let mut pending_workdir = None;
        for (i, step) in r.steps.iter().enumerate() {
            let t0 = Instant::now();
            let label = format!("step {}/{n}: {}", i + 1, step.describe());
            let ctx =
                serde_json::json!({"env": b.env, "user": b.user, "workdir": b.workdir}).to_string();
            let step_json = serde_json::to_string(step).unwrap_or_default();
            let action = match step {
                Step::Env(m) => {
                    b.env.extend(m.clone());
                    key = chain_key(&[&key, &step_json]);
                    self.log.line(&label);
                    continue;
                }
                Step::User(u) => {
                    b.user = Some(u.clone());
                    key = chain_key(&[&key, &step_json]);
                    self.log.line(&label);
                    continue;
                }
                Step::Workdir(w) => {
                    // The new workdir applies after its mkdir, which runs from the old one.
                    pending_workdir = Some(w.clone());
                    Action::Shell(format!(
                        "mkdir -p {}",
                        cove_image::dockerfile::shell_quote(w)
                    ))
                }
                Step::Run(c) => Action::Shell(c.clone()),
                Step::Copy(c) => Action::Upload(self.copies(&c.src, &c.dest)?),
            };
            let mut parts = vec![key.clone(), step_json, ctx];
            if let Action::Upload(files) = &action {
                for (p, dest) in files {
                    parts.push(dest.clone());
                    parts.push(file_digest(p).await?);
                }
            }
            key = chain_key(&parts.iter().map(String::as_str).collect::<Vec<_>>());
            if self.svc.inner.catalog.images.has_layer(&key) {
                self.log.line(format!("{label} (cached)"));
            } else {
                self.log.line(&label);
                // Workdir's mkdir must run as root whatever USER says.
                let user = match step {
                    Step::Workdir(_) => "root".to_string(),
                    _ => b.user.clone().unwrap_or_else(|| "root".into()),
                };
                self.step(&b, &key, action, &user).await?;
                self.log.line(format!(
                    "{label} done in {:.1}s",
                    t0.elapsed().as_secs_f64()
                ));
            }
            b.layers.insert(0, key.clone());
            if let Some(w) = pending_workdir.take() {
                b.workdir = Some(w);
            }
        }
        b.start = r.start.clone().or(b.start);
        b.ready = r.ready.clone().or(b.ready);
        Ok(b)
    }

    /// Resolves the recipe's base to layers and defaults.
    async fn base(&self, from: &Base) -> CoreResult<Built> {
        let cat = &self.svc.inner.catalog;
        match from {
            Base::Template { template } => self.template_base(template).await,
            Base::Image {
                image,
                insecure_registry,
            } => {
                // A reference equal to a template name means that template.
                if cove_types::validate_name(image).is_ok() && cat.record(image).await.is_ok() {
                    return self.template_base(image).await;
                }
                let req = PullRequest {
                    reference: image.clone(),
                    insecure: *insecure_registry,
                    credentials: self.spec.credentials.clone(),
                };
                let l = self.log.clone();
                let img = cove_image::registry::pull(&cat.images, &req, &move |s| l.line(s))
                    .await
                    .map_err(image_err)?;
                Ok(Built::from_image(img))
            }
            Base::Debian { debian, packages } => {
                let images = cat.images.clone();
                let l = self.log.clone();
                let (suite, pkgs) = (debian.clone(), packages.clone());
                let layer = tokio::task::spawn_blocking(move || {
                    cove_image::debian::bootstrap(&images, &suite, &pkgs, &mut |s| l.line(s))
                })
                .await
                .map_err(|e| CoreError::internal(format!("bootstrap task: {e}")))?
                .map_err(image_err)?;
                Ok(Built {
                    layers: vec![layer],
                    ..Default::default()
                })
            }
        }
    }

    async fn template_base(&self, name: &str) -> CoreResult<Built> {
        let rec = self.svc.inner.catalog.record(name).await?;
        if rec.status != "ready" {
            return Err(CoreError::precondition(format!(
                "base template '{}' is {}, not ready",
                rec.name, rec.status
            )));
        }
        let src = Source::parse(&rec.source);
        self.log
            .line(format!("from template '{}' ({})", rec.name, rec.id));
        if src.kind == "host-base" {
            return Ok(Built {
                host_base: true,
                env: rec.envs,
                ..Default::default()
            });
        }
        // Steps start as root, as on a bootstrapped base; the template's recorded user is a
        // default for sandboxes (and is inferred again at the end from /etc/passwd).
        Ok(Built {
            layers: src.layers,
            host_base: src.host_base,
            env: rec.envs,
            user: None,
            workdir: src.workdir,
            start: src.start,
            ready: src.ready,
            cmd: src.cmd,
        })
    }

    /// The uploaded files a `copy` names, with their destinations.
    fn copies(&self, src: &str, dest: &str) -> CoreResult<Vec<(PathBuf, String)>> {
        let ups = &self.spec.uploads;
        if let Some(p) = ups.get(src) {
            let base = src.rsplit('/').next().unwrap_or(src);
            let d = if dest.ends_with('/') {
                format!("{dest}{base}")
            } else {
                dest.to_string()
            };
            return Ok(vec![(p.clone(), d)]);
        }
        let prefix = if src == "." {
            String::new()
        } else {
            format!("{}/", src.trim_end_matches('/'))
        };
        let out: Vec<(PathBuf, String)> = ups
            .iter()
            .filter_map(|(name, p)| {
                name.strip_prefix(&prefix)
                    .map(|rel| (p.clone(), format!("{}/{rel}", dest.trim_end_matches('/'))))
            })
            .collect();
        if out.is_empty() {
            return Err(CoreError::invalid(format!(
                "copy: no uploaded file named {src:?} (uploaded: {})",
                ups.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(out)
    }

    /// Runs one step in a build sandbox and stores its writable layer as layer `key`.
    async fn step(&self, b: &Built, key: &str, action: Action, user: &str) -> CoreResult<()> {
        let svc = self.svc;
        let cat = &svc.inner.catalog;
        let mut rootfs: RootfsSpec = cat.rootfs_of(&b.layers, b.host_base);
        if Path::new("/etc/resolv.conf").exists() {
            rootfs
                .ro_binds
                .push(("/etc/resolv.conf".into(), "/etc/resolv.conf".into()));
        }
        // Build steps use the host's network, so they trust what the host trusts there (e.g. an
        // egress proxy's CA). Only over an existing bundle, so no mount point lands in the layer.
        let bundle = "etc/ssl/certs/ca-certificates.crt";
        let host_bundle = Path::new("/").join(bundle);
        if host_bundle.is_file() && cove_image::find_in_layers(&rootfs.lower_dirs, bundle).is_some()
        {
            rootfs.ro_binds.push((host_bundle.clone(), host_bundle));
        }
        let id = cove_types::new_sandbox_id();
        let token = cove_types::new_secret(32);
        let spec = SandboxSpec {
            id: id.clone(),
            rootfs,
            agent_binary: svc.inner.cfg.agent_binary.clone(),
            init_args: vec![
                "--socket".into(),
                format!("{SANDBOX_AGENT_SOCKET_DIR}/{AGENT_SOCKET_NAME}"),
            ],
            init_env: vec![],
            limits: BUILD_LIMITS,
            network: Network::Host,
        };
        let runtime = svc.inner.runtime.clone();
        let created = tokio::task::spawn_blocking(move || runtime.create(&spec))
            .await
            .map_err(|e| CoreError::internal(format!("runtime task: {e}")))??;
        let res = self
            .step_in(&id, &created.socket_path, &token, b, action, user)
            .await;
        let runtime = svc.inner.runtime.clone();
        let images = cat.images.clone();
        let (id2, key2) = (id.clone(), key.to_string());
        let captured = tokio::task::spawn_blocking(move || -> CoreResult<()> {
            runtime.kill(&id2)?;
            res?;
            let tmp = images.tmp_dir("step").map_err(image_err)?;
            let upper = runtime.writable_dir(&id2);
            let r = cove_image::capture::capture_upper(&upper, &tmp)
                .and_then(|_| images.commit_layer(&tmp, &key2));
            if r.is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            r.map(|_| ()).map_err(image_err)
        })
        .await
        .map_err(|e| CoreError::internal(format!("capture task: {e}")));
        let runtime = svc.inner.runtime.clone();
        let id3 = id.clone();
        let deleted = tokio::task::spawn_blocking(move || runtime.delete(&id3)).await;
        if let Ok(Err(e)) = deleted {
            tracing::warn!(sandbox_id = %id, error = %e, "cannot delete build sandbox");
        }
        captured?
    }

    async fn step_in(
        &self,
        id: &str,
        socket: &Path,
        token: &str,
        b: &Built,
        action: Action,
        user: &str,
    ) -> CoreResult<()> {
        let client = AgentClient::new(
            Arc::new(UnixTransport::new(socket.to_path_buf())),
            Some(token.to_string()),
        );
        let t0 = Instant::now();
        loop {
            match client.health().await {
                Ok(()) => break,
                Err(e) if t0.elapsed() > self.svc.inner.cfg.boot_timeout => {
                    return Err(CoreError::internal(format!(
                        "build sandbox {id} agent did not answer: {e}"
                    )))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        client
            .init(&InitRequest {
                env_vars: b.env.clone(),
                access_token: Some(token.to_string()),
                default_user: Some("root".into()),
                default_workdir: Some("/".into()),
            })
            .await?;
        match action {
            Action::Upload(files) => {
                for (src, dest) in files {
                    let bytes = tokio::fs::read(&src)
                        .await
                        .map_err(|e| CoreError::internal(format!("read upload: {e}")))?;
                    let body = futures_util::stream::once(async move {
                        Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
                    });
                    client
                        .upload(&dest, Some("root"), body)
                        .await
                        .map_err(|e| {
                            let e = CoreError::from(e);
                            CoreError::invalid(format!("copy to {dest}: {}", e.message()))
                        })?;
                    self.log.line(format!("  copied {dest}"));
                }
                Ok(())
            }
            Action::Shell(cmd) => {
                let req = StartRequest {
                    process: Some(ProcessConfig {
                        cmd: "/bin/sh".into(),
                        args: vec!["-c".into(), cmd.clone()],
                        envs: b.env.clone(),
                        cwd: b.workdir.clone(),
                    }),
                    pty: None,
                    tag: None,
                    stdin: Some(false),
                };
                let timeout = STEP_TIMEOUT.as_millis() as u64;
                let mut stream = client.start(&req, Some(user), Some(timeout)).await?;
                while let Some(ev) = stream.next().await {
                    let ev = ev?;
                    if let Some(d) = ev.data {
                        if let Some(o) = d.stdout {
                            self.log.bytes(&o);
                        }
                        if let Some(e) = d.stderr {
                            self.log.bytes(&e);
                        }
                    }
                    if let Some(end) = ev.end {
                        if end.exit_code != 0 {
                            return Err(CoreError::invalid(format!(
                                "command {cmd:?} exited with code {}",
                                end.exit_code
                            )));
                        }
                        return Ok(());
                    }
                }
                Err(CoreError::internal("build step stream ended early"))
            }
        }
    }
}

/// sha256 of a file, streamed on a blocking thread.
async fn file_digest(p: &Path) -> CoreResult<String> {
    let p = p.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&p)?;
        let (d, _) = cove_image::digest::HashingReader::new(f).finish()?;
        Ok::<_, std::io::Error>(d.to_string())
    })
    .await
    .map_err(|e| CoreError::internal(format!("hash task: {e}")))?
    .map_err(|e| CoreError::internal(format!("hash upload: {e}")))
}
