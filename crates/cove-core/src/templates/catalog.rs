//! The catalog: composes the `base` template at startup and resolves a template id or name to the
//! rootfs the runtime mounts plus the defaults a sandbox starts with.

use super::source::Source;
use crate::error::{CoreError, CoreResult};
use chrono::Utc;
use cove_image::ImageStore;
use cove_runtime::RootfsSpec;
use cove_store::{Store, StoreError, TemplateRecord};
use cove_types::layout::{DEFAULT_USER, DEFAULT_WORKDIR};
use cove_types::Limits;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Id and name of the embedded default template.
pub const BASE_TEMPLATE: &str = "base";

/// A resolved template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) id: String,
    pub(crate) rootfs: RootfsSpec,
    pub(crate) limits: Limits,
    pub(crate) envs: BTreeMap<String, String>,
    /// Default user of processes.
    pub(crate) user: String,
    /// Default working directory.
    pub(crate) workdir: String,
    /// Background command started at boot.
    pub(crate) start: Option<String>,
    /// Readiness command polled before create returns.
    pub(crate) ready: Option<String>,
}

/// Known templates, the image store and builds in flight.
#[derive(Clone)]
pub(crate) struct Catalog {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) images: ImageStore,
    pub(crate) templates_dir: PathBuf,
    base: RootfsSpec,
    /// Ids of templates whose build task is running in this process.
    pub(crate) building: Arc<Mutex<HashSet<String>>>,
}

impl Catalog {
    /// Composes the `base` template (fast and offline), opens the image store next to the
    /// templates dir and marks builds interrupted by a restart as failed.
    pub(crate) async fn init(store: Arc<dyn Store>, templates_dir: &Path) -> CoreResult<Self> {
        let dir = templates_dir.join(BASE_TEMPLATE);
        let spec =
            tokio::task::spawn_blocking(move || cove_runtime::base::ensure_base_template(&dir))
                .await
                .map_err(|e| CoreError::internal(format!("base template task: {e}")))??;
        let images_dir = templates_dir
            .parent()
            .unwrap_or(templates_dir)
            .join("images");
        let images = tokio::task::spawn_blocking(move || ImageStore::open(&images_dir))
            .await
            .map_err(|e| CoreError::internal(format!("image store task: {e}")))?
            .map_err(super::build::image_err)?;
        let existing = match store.get_template(BASE_TEMPLATE).await {
            Ok(t) => Some(t),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if existing.is_none() {
            let d = Limits::DEFAULT;
            store
                .upsert_template(&TemplateRecord {
                    id: BASE_TEMPLATE.into(),
                    name: BASE_TEMPLATE.into(),
                    status: "ready".into(),
                    source: r#"{"kind":"host-base"}"#.into(),
                    cpu_count: d.cpu_count,
                    memory_mb: d.memory_mb,
                    disk_mb: d.disk_mb,
                    envs: Default::default(),
                    created_at: Utc::now(),
                    error: None,
                })
                .await?;
        }
        for mut t in store.list_templates().await? {
            if t.status == "building" {
                t.status = "error".into();
                t.error = Some("build interrupted by a server restart".into());
                store.upsert_template(&t).await?;
            }
        }
        Ok(Self {
            store,
            images,
            templates_dir: templates_dir.to_path_buf(),
            base: spec,
            building: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// The record with this id or name.
    pub(crate) async fn record(&self, id_or_name: &str) -> CoreResult<TemplateRecord> {
        match self.store.get_template(id_or_name).await {
            Ok(r) => Ok(r),
            Err(StoreError::NotFound { .. }) => Err(CoreError::not_found(format!(
                "template '{id_or_name}' not found"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The overlay lower dirs and binds of a stack of layers (topmost first).
    pub(crate) fn rootfs_of(&self, layers: &[String], host_base: bool) -> RootfsSpec {
        let mut spec = RootfsSpec {
            lower_dirs: layers.iter().map(|l| self.images.layer_dir(l)).collect(),
            ro_binds: vec![],
        };
        if host_base {
            spec.lower_dirs.extend(self.base.lower_dirs.iter().cloned());
            spec.ro_binds = self.base.ro_binds.clone();
        }
        spec
    }

    /// Resolves `id_or_name` to a ready template.
    pub(crate) async fn resolve(&self, id_or_name: &str) -> CoreResult<Template> {
        let rec = self.record(id_or_name).await?;
        if rec.status != "ready" {
            return Err(CoreError::precondition(format!(
                "template '{}' is {}, not ready",
                rec.name, rec.status
            )));
        }
        let src = Source::parse(&rec.source);
        let (rootfs, user, workdir) = if src.kind == "host-base" {
            (
                self.base.clone(),
                DEFAULT_USER.to_string(),
                DEFAULT_WORKDIR.to_string(),
            )
        } else {
            if let Some(missing) = src.layers.iter().find(|l| !self.images.has_layer(l)) {
                return Err(CoreError::precondition(format!(
                    "template '{}' lacks layer {missing} on this host; rebuild it",
                    rec.name
                )));
            }
            (
                self.rootfs_of(&src.layers, src.host_base),
                src.user.clone().unwrap_or_else(|| "root".into()),
                src.workdir.clone().unwrap_or_else(|| "/".into()),
            )
        };
        if rootfs.lower_dirs.is_empty() {
            return Err(CoreError::precondition(format!(
                "template '{}' has no layers",
                rec.name
            )));
        }
        Ok(Template {
            id: rec.id,
            rootfs,
            limits: Limits {
                cpu_count: rec.cpu_count,
                memory_mb: rec.memory_mb,
                disk_mb: rec.disk_mb,
                pids: Limits::DEFAULT.pids,
            },
            envs: rec.envs,
            user,
            workdir,
            start: src.start,
            ready: src.ready,
        })
    }
}
