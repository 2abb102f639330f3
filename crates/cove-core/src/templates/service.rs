//! Template use cases on [`SandboxService`]: create (import or build in the background), list,
//! get, build log, delete. Surfaces parse their input into a [`TemplateSpec`] and call one method.

use super::log::{stream, BuildLog};
use super::source::Source;
use super::BASE_TEMPLATE;
use crate::error::{CoreError, CoreResult};
use crate::sandbox::SandboxService;
use bytes::Bytes;
use chrono::Utc;
use cove_image::recipe::Recipe;
use cove_image::registry::Credentials;
use cove_store::{StoreError, TemplateRecord};
use cove_types::{ErrorCode, Limits};
use futures_util::stream::BoxStream;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a template's root filesystem comes from.
#[derive(Debug, Clone)]
pub enum TemplateInput {
    /// An image pulled from a registry.
    Image {
        /// Image reference.
        reference: String,
        /// Plain HTTP to its registry.
        insecure: bool,
    },
    /// An OCI image layout (directory or tar) or `docker save` archive on the server's disk
    /// (usually an upload staged by the surface).
    Archive {
        /// Its path.
        path: PathBuf,
    },
    /// A recipe.
    Recipe(Recipe),
    /// A Dockerfile (the supported subset).
    Dockerfile(String),
}

/// A create/rebuild request.
#[derive(Debug, Clone)]
pub struct TemplateSpec {
    /// Unique name (re-using a name rebuilds that template in place).
    pub name: String,
    /// Source.
    pub input: TemplateInput,
    /// Registry credentials for any image pulled.
    pub credentials: Credentials,
    /// Default CPU cores of sandboxes.
    pub cpu_count: Option<u64>,
    /// Default memory MiB.
    pub memory_mb: Option<u64>,
    /// Default disk MiB.
    pub disk_mb: Option<u64>,
    /// Default envs (on top of the image's and recipe's).
    pub envs: BTreeMap<String, String>,
    /// Uploaded files `copy` steps may name: upload name → staged path.
    pub uploads: BTreeMap<String, PathBuf>,
}

/// A template as surfaces show it.
#[derive(Debug, Clone)]
pub struct TemplateView {
    /// The stored record.
    pub record: TemplateRecord,
    /// `host-base`, `image`, `archive`, `recipe`, `dockerfile`.
    pub kind: String,
    /// Default user.
    pub user: Option<String>,
    /// Default working directory.
    pub workdir: Option<String>,
    /// Start command.
    pub start: Option<String>,
    /// Ready check.
    pub ready: Option<String>,
    /// Number of layers.
    pub layers: usize,
}

impl TemplateView {
    pub(crate) fn of(record: TemplateRecord) -> Self {
        let src = Source::parse(&record.source);
        let host = src.kind == "host-base";
        Self {
            kind: src.kind,
            user: src.user.or_else(|| host.then(|| "user".into())),
            workdir: src.workdir.or_else(|| host.then(|| "/home/user".into())),
            start: src.start,
            ready: src.ready,
            layers: src.layers.len() + usize::from(host),
            record,
        }
    }
}

impl SandboxService {
    /// A fresh directory where a surface may stage uploaded files before calling
    /// [`SandboxService::create_template`]; it is removed when the build ends.
    pub fn template_upload_dir(&self) -> CoreResult<PathBuf> {
        let dir = self
            .inner
            .catalog
            .templates_dir
            .join(".uploads")
            .join(cove_types::new_sandbox_id());
        std::fs::create_dir_all(&dir)
            .map_err(|e| CoreError::internal(format!("mkdir {}: {e}", dir.display())))?;
        Ok(dir)
    }

    /// Validates the request, records the template as `building` and starts the build in the
    /// background. A name that exists is rebuilt in place (cached steps are reused).
    pub async fn create_template(&self, spec: TemplateSpec) -> CoreResult<TemplateView> {
        let cat = &self.inner.catalog;
        cove_types::validate_name(&spec.name)
            .map_err(|e| CoreError::invalid(format!("name: {e}")))?;
        if spec.name == BASE_TEMPLATE {
            return Err(CoreError::precondition(
                "the embedded base template cannot be replaced",
            ));
        }
        let limits = Limits::resolve(
            Limits::DEFAULT,
            spec.cpu_count,
            spec.memory_mb,
            spec.disk_mb,
        )
        .map_err(|e| CoreError::invalid(e.to_string()))?;
        if let Some(k) = spec
            .envs
            .keys()
            .find(|k| k.is_empty() || k.contains('=') || k.contains('\0'))
        {
            return Err(CoreError::invalid(format!("invalid env name {k:?}")));
        }
        let (kind, described) = describe(&spec)?;
        let existing = match cat.store.get_template(&spec.name).await {
            Ok(r) if r.name == spec.name => Some(r),
            Ok(_) | Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let id = existing
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_else(cove_types::new_sandbox_id);
        {
            let mut b = cat
                .building
                .lock()
                .map_err(|_| CoreError::internal("build table poisoned"))?;
            if !b.insert(id.clone()) {
                return Err(CoreError::precondition(format!(
                    "template '{}' is already building",
                    spec.name
                )));
            }
        }
        let rec = TemplateRecord {
            id: id.clone(),
            name: spec.name.clone(),
            status: "building".into(),
            source: Source {
                kind,
                spec: Some(described),
                ..Default::default()
            }
            .to_json(),
            cpu_count: limits.cpu_count,
            memory_mb: limits.memory_mb,
            disk_mb: limits.disk_mb,
            envs: spec.envs.clone(),
            created_at: existing.map(|r| r.created_at).unwrap_or_else(Utc::now),
            error: None,
        };
        let log = self.template_dir(&id).join("build.log");
        let started = async {
            cat.store.upsert_template(&rec).await.map_err(|e| {
                let e = CoreError::from(e);
                if e.code() == ErrorCode::AlreadyExists {
                    CoreError::new(
                        ErrorCode::AlreadyExists,
                        format!("template name '{}' is taken", spec.name),
                    )
                } else {
                    e
                }
            })?;
            BuildLog::create(&log).map_err(|e| CoreError::internal(format!("build log: {e}")))
        }
        .await;
        let log = match started {
            Ok(l) => l,
            Err(e) => {
                self.build_finished(&id);
                return Err(e);
            }
        };
        let svc = self.clone();
        let rec2 = rec.clone();
        tokio::spawn(async move { svc.run_build(rec2, spec, log).await });
        Ok(TemplateView::of(rec))
    }

    /// All templates, oldest first.
    pub async fn list_templates(&self) -> CoreResult<Vec<TemplateView>> {
        Ok(self
            .inner
            .catalog
            .store
            .list_templates()
            .await?
            .into_iter()
            .map(TemplateView::of)
            .collect())
    }

    /// One template by id or name.
    pub async fn template_view(&self, id_or_name: &str) -> CoreResult<TemplateView> {
        Ok(TemplateView::of(
            self.inner.catalog.record(id_or_name).await?,
        ))
    }

    /// The build log; with `follow`, the stream ends when the build does.
    pub async fn template_build_log(
        &self,
        id_or_name: &str,
        follow: bool,
    ) -> CoreResult<BoxStream<'static, std::io::Result<Bytes>>> {
        let rec = self.inner.catalog.record(id_or_name).await?;
        Ok(stream(
            self.template_dir(&rec.id).join("build.log"),
            follow,
            rec.id,
            self.inner.catalog.building.clone(),
        ))
    }

    /// Deletes a template unless it is `base`, building, or used by live sandboxes. Its layers
    /// stay in the image store (other templates and the build cache share them).
    pub async fn delete_template(&self, id_or_name: &str) -> CoreResult<()> {
        let cat = &self.inner.catalog;
        let rec = cat.record(id_or_name).await?;
        if rec.id == BASE_TEMPLATE {
            return Err(CoreError::precondition(
                "the embedded base template cannot be deleted",
            ));
        }
        if cat
            .building
            .lock()
            .map(|b| b.contains(&rec.id))
            .unwrap_or(false)
        {
            return Err(CoreError::precondition(format!(
                "template '{}' is building",
                rec.name
            )));
        }
        let users = cat
            .store
            .list_live_sandboxes()
            .await?
            .into_iter()
            .filter(|s| s.template_id == rec.id)
            .count();
        if self.pools().iter().any(|p| p.template_id == rec.id) {
            return Err(CoreError::precondition(format!(
                "template '{}' has a warm pool; delete the pool first (DELETE /v1/pools/{})",
                rec.name, rec.name
            )));
        }
        if users > 0 {
            return Err(CoreError::precondition(format!(
                "template '{}' is used by {users} live sandbox(es)",
                rec.name
            )));
        }
        match cat.store.delete_template(&rec.id).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let dir = self.template_dir(&rec.id);
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(())
    }

    pub(crate) fn template_dir(&self, id: &str) -> PathBuf {
        self.inner.catalog.templates_dir.join(id)
    }

    pub(crate) fn build_finished(&self, id: &str) {
        if let Ok(mut b) = self.inner.catalog.building.lock() {
            b.remove(id);
        }
    }
}

/// Kind and a credential-free JSON description of the request, validating what can be validated
/// before anything runs (so a typo is a 400, not a failed build).
fn describe(spec: &TemplateSpec) -> CoreResult<(String, serde_json::Value)> {
    let bad = |e: cove_image::ImageError| CoreError::invalid(e.to_string());
    let uploads: Vec<&String> = spec.uploads.keys().collect();
    Ok(match &spec.input {
        TemplateInput::Image {
            reference,
            insecure,
        } => {
            let r = cove_image::registry::parse_reference(reference).map_err(bad)?;
            (
                "image".into(),
                serde_json::json!({"image": r, "insecureRegistry": insecure}),
            )
        }
        TemplateInput::Archive { .. } => ("archive".into(), serde_json::json!({"archive": true})),
        TemplateInput::Recipe(r) => {
            r.validate().map_err(bad)?;
            (
                "recipe".into(),
                serde_json::json!({"recipe": r, "uploads": uploads}),
            )
        }
        TemplateInput::Dockerfile(text) => {
            cove_image::dockerfile::parse(text).map_err(bad)?;
            (
                "dockerfile".into(),
                serde_json::json!({"dockerfile": text, "uploads": uploads}),
            )
        }
    })
}
