//! Template catalog: resolves a template id or name to the rootfs the runtime mounts. Only the
//! embedded `base` template exists so far; its storage is a `source` JSON on the template record so
//! that image-backed templates can be added without changing callers.

use crate::error::{CoreError, CoreResult};
use chrono::Utc;
use cove_runtime::RootfsSpec;
use cove_store::{Store, StoreError, TemplateRecord};
use cove_types::Limits;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// Id and name of the embedded default template.
pub const BASE_TEMPLATE: &str = "base";

/// A resolved template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) id: String,
    pub(crate) rootfs: RootfsSpec,
    pub(crate) limits: Limits,
    pub(crate) envs: std::collections::BTreeMap<String, String>,
}

/// Known templates and their rootfs.
#[derive(Clone)]
pub(crate) struct Catalog {
    store: Arc<dyn Store>,
    rootfs: Arc<RwLock<HashMap<String, RootfsSpec>>>,
}

impl Catalog {
    /// Composes the `base` template (fast and offline) and registers it.
    pub(crate) async fn init(store: Arc<dyn Store>, templates_dir: &Path) -> CoreResult<Self> {
        let dir = templates_dir.join(BASE_TEMPLATE);
        let spec =
            tokio::task::spawn_blocking(move || cove_runtime::base::ensure_base_template(&dir))
                .await
                .map_err(|e| CoreError::internal(format!("base template task: {e}")))??;
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
        let mut map = HashMap::new();
        map.insert(BASE_TEMPLATE.to_string(), spec);
        Ok(Self {
            store,
            rootfs: Arc::new(RwLock::new(map)),
        })
    }

    /// Resolves `id_or_name` to a ready template.
    pub(crate) async fn resolve(&self, id_or_name: &str) -> CoreResult<Template> {
        let rec = match self.store.get_template(id_or_name).await {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => {
                return Err(CoreError::not_found(format!(
                    "template '{id_or_name}' not found"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if rec.status != "ready" {
            return Err(CoreError::precondition(format!(
                "template '{}' is {}, not ready",
                rec.name, rec.status
            )));
        }
        let rootfs = self
            .rootfs
            .read()
            .ok()
            .and_then(|m| m.get(&rec.id).cloned())
            .ok_or_else(|| {
                CoreError::precondition(format!(
                    "template '{}' has no rootfs on this host",
                    rec.name
                ))
            })?;
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
        })
    }
}
