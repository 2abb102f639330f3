//! The background build task: runs the source (pull, import or recipe), then records the template
//! `ready` with its layers and defaults, or `error` with the reason. Every stage is logged.

use super::log::BuildLog;
use super::service::{TemplateInput, TemplateSpec};
use super::source::Source;
use super::steps::{Builder, Built};
use crate::error::{CoreError, CoreResult};
use crate::sandbox::SandboxService;
use cove_image::registry::PullRequest;
use cove_image::{find_in_layers, ImageError};
use cove_store::TemplateRecord;
use cove_types::ErrorCode;
use std::path::PathBuf;
use std::time::Instant;

impl SandboxService {
    pub(crate) async fn run_build(
        &self,
        mut rec: TemplateRecord,
        spec: TemplateSpec,
        log: BuildLog,
    ) {
        let started = Instant::now();
        log.line(format!(
            "build of template '{}' ({}) started",
            rec.name, rec.id
        ));
        let result = self.build_source(&spec, &log).await;
        let mut src = Source::parse(&rec.source);
        match result {
            Ok(built) => {
                let (user, workdir) = self.defaults_of(&built);
                src.layers = built.layers;
                src.host_base = built.host_base;
                src.user = Some(user);
                src.workdir = Some(workdir);
                src.start = built.start;
                src.ready = built.ready;
                src.cmd = built.cmd;
                let mut envs = built.env;
                envs.extend(rec.envs.clone());
                rec.envs = envs;
                rec.status = "ready".into();
                rec.error = None;
                log.line(format!(
                    "template '{}' ready: {} layer(s), user {}, in {:.1}s",
                    rec.name,
                    src.layers.len(),
                    src.user.as_deref().unwrap_or("root"),
                    started.elapsed().as_secs_f64()
                ));
            }
            Err(e) => {
                let msg = if e.code() == ErrorCode::Internal {
                    tracing::error!(template = %rec.id, error = %e, "template build failed");
                    "internal error during the build; see the server log".to_string()
                } else {
                    e.message().to_string()
                };
                log.line(format!("error: {msg}"));
                rec.status = "error".into();
                rec.error = Some(msg);
            }
        }
        rec.source = src.to_json();
        if let Err(e) = self.inner.catalog.store.upsert_template(&rec).await {
            tracing::error!(template = %rec.id, error = %e, "cannot record build result");
        }
        if let Some(dir) = spec.uploads.values().next().and_then(|p| p.parent()) {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        if let TemplateInput::Archive { path } = &spec.input {
            if path.starts_with(self.inner.catalog.templates_dir.join(".uploads")) {
                if let Some(dir) = path.parent() {
                    let _ = tokio::fs::remove_dir_all(dir).await;
                }
            }
        }
        self.build_finished(&rec.id);
    }

    async fn build_source(&self, spec: &TemplateSpec, log: &BuildLog) -> CoreResult<Built> {
        let images = self.inner.catalog.images.clone();
        match &spec.input {
            TemplateInput::Image {
                reference,
                insecure,
            } => {
                let req = PullRequest {
                    reference: reference.clone(),
                    insecure: *insecure,
                    credentials: spec.credentials.clone(),
                };
                let l = log.clone();
                let imported = cove_image::registry::pull(&images, &req, &move |s| l.line(s))
                    .await
                    .map_err(image_err)?;
                Ok(Built::from_image(imported))
            }
            TemplateInput::Archive { path } => {
                let path = path.clone();
                let l = log.clone();
                let imported = tokio::task::spawn_blocking(move || {
                    cove_image::layout::import(&images, &path, &mut |s| l.line(s))
                })
                .await
                .map_err(|e| CoreError::internal(format!("import task: {e}")))?
                .map_err(image_err)?;
                Ok(Built::from_image(imported))
            }
            TemplateInput::Recipe(r) => Builder::new(self, spec, log).run(r).await,
            TemplateInput::Dockerfile(text) => {
                let r = cove_image::dockerfile::parse(text).map_err(image_err)?;
                Builder::new(self, spec, log).run(&r).await
            }
        }
    }

    /// Default user and workdir: the explicit ones, else `user` when the root has it, else root;
    /// the workdir defaults to that user's home.
    fn defaults_of(&self, b: &Built) -> (String, String) {
        let dirs: Vec<PathBuf> = self
            .inner
            .catalog
            .rootfs_of(&b.layers, b.host_base)
            .lower_dirs;
        let passwd = find_in_layers(&dirs, "etc/passwd")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let entries: Vec<Vec<&str>> = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 6)
            .collect();
        let by_name = |n: &str| entries.iter().find(|f| f[0] == n);
        let user = match b.user.as_deref() {
            Some(u) => {
                let name_or_uid = u.split(':').next().unwrap_or(u);
                if by_name(name_or_uid).is_some() {
                    name_or_uid.to_string()
                } else if let Some(f) = entries.iter().find(|f| f[2] == name_or_uid) {
                    f[0].to_string()
                } else {
                    "root".to_string()
                }
            }
            None if by_name("user").is_some() => "user".into(),
            None => "root".into(),
        };
        let workdir = b.workdir.clone().unwrap_or_else(|| {
            by_name(&user)
                .map(|f| f[5].to_string())
                .filter(|h| h.starts_with('/'))
                .unwrap_or_else(|| "/".into())
        });
        (user, workdir)
    }
}

/// Image failures are the input's fault unless the host failed.
pub(crate) fn image_err(e: ImageError) -> CoreError {
    if e.is_user_error() {
        CoreError::invalid(e.to_string())
    } else {
        CoreError::internal(e.to_string())
    }
}
