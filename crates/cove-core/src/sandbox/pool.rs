//! Warm pools: per template, sandboxes booted ahead of demand so a create only has to claim one,
//! configure it (`/init` with the request's envs, files, setup) and record it.
//!
//! A pooled sandbox has never run user code: it is booted from the template, its start command
//! (if any) is running, and nothing else happened in it, so claiming it leaks nothing between
//! users. Pooled sandboxes are not in the store until claimed; after a server restart the
//! reconcile pass removes them as orphans and the filler boots new ones. Pool settings persist in
//! a small JSON file in the data dir.

use super::{Live, SandboxService};
use crate::error::{CoreError, CoreResult};
use crate::templates::Template;
use chrono::{DateTime, Utc};
use cove_agent_client::AgentClient;
use cove_types::Limits;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Largest `minIdle` accepted per template.
pub const MAX_POOL_SIZE: u32 = 100;
/// How often the filler re-checks pools even without a nudge (e.g. after a pooled sandbox died).
const FILL_TICK: Duration = Duration::from_secs(2);

/// Settings of one pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSettings {
    /// Idle sandboxes to keep ready.
    pub min_idle: u32,
    /// Upper bound on idle sandboxes (defaults to `min_idle`).
    pub max: u32,
}

/// A pool as reported.
#[derive(Debug, Clone)]
pub struct PoolStatus {
    /// Template id.
    pub template_id: String,
    /// Settings.
    pub settings: PoolSettings,
    /// Idle sandboxes ready to claim.
    pub idle: u32,
    /// Sandboxes booting for the pool.
    pub booting: u32,
    /// Creates served from the pool.
    pub hits: u64,
    /// Creates for this template that found the pool empty (or needed other limits).
    pub misses: u64,
}

/// An idle pooled sandbox.
#[derive(Debug, Clone)]
pub struct PooledSandbox {
    /// Sandbox id (kept when claimed).
    pub id: String,
    /// When it finished booting.
    pub ready_at: DateTime<Utc>,
    pub(crate) token: String,
    pub(crate) pid: u32,
    pub(crate) client: AgentClient,
    pub(crate) limits: Limits,
}

#[derive(Debug, Default)]
struct Pool {
    settings: Option<PoolSettings>,
    idle: VecDeque<PooledSandbox>,
    booting: u32,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// All pools of this server.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    pools: Mutex<BTreeMap<String, Pool>>,
    wake: Notify,
}

fn load(path: &Path) -> BTreeMap<String, PoolSettings> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

impl SandboxService {
    fn save_pools(&self) {
        let settings: BTreeMap<String, PoolSettings> = self
            .inner
            .pools
            .pools
            .lock()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, p)| p.settings.map(|s| (k.clone(), s)))
                    .collect()
            })
            .unwrap_or_default();
        let path = &self.inner.cfg.pools_file;
        let tmp = path.with_extension("json.tmp");
        let ok = serde_json::to_vec_pretty(&settings)
            .ok()
            .and_then(|b| std::fs::write(&tmp, b).ok())
            .and_then(|_| std::fs::rename(&tmp, path).ok());
        if ok.is_none() {
            tracing::warn!(path = %path.display(), "cannot save pool settings");
        }
    }

    /// Loads saved pool settings and starts the background filler.
    pub(crate) fn start_pools(&self) {
        let saved = load(&self.inner.cfg.pools_file);
        if let Ok(mut m) = self.inner.pools.pools.lock() {
            for (t, s) in saved {
                m.entry(t).or_default().settings = Some(s);
            }
        }
        let svc = self.clone();
        tokio::spawn(async move {
            loop {
                svc.fill_once().await;
                let _ = tokio::time::timeout(FILL_TICK, svc.inner.pools.wake.notified()).await;
            }
        });
    }

    /// Boots what the pools lack, one sandbox at a time (pool filling must not starve user creates
    /// of CPU).
    async fn fill_once(&self) {
        loop {
            let next = self.inner.pools.pools.lock().ok().and_then(|mut m| {
                m.iter_mut().find_map(|(t, p)| {
                    let s = p.settings?;
                    let have = p.idle.len() as u32 + p.booting;
                    (have < s.min_idle.min(s.max)).then(|| {
                        p.booting += 1;
                        t.clone()
                    })
                })
            });
            let Some(template_id) = next else { return };
            let res = self.boot_pooled(&template_id).await;
            let mut discard = None;
            if let Ok(mut m) = self.inner.pools.pools.lock() {
                let p = m.entry(template_id.clone()).or_default();
                p.booting = p.booting.saturating_sub(1);
                match res {
                    Ok(sb) if p.settings.is_some() => p.idle.push_back(sb),
                    Ok(sb) => discard = Some(sb.id),
                    Err(e) => {
                        tracing::warn!(template = %template_id, error = %e, "cannot fill pool");
                        // Don't spin on a broken template: wait for the next tick.
                        return;
                    }
                }
            }
            if let Some(id) = discard {
                self.destroy_unrecorded(&id).await;
            }
        }
    }

    async fn boot_pooled(&self, template_id: &str) -> CoreResult<PooledSandbox> {
        let template = self.inner.catalog.resolve(template_id).await?;
        let id = cove_types::new_sandbox_id();
        let token = cove_types::new_secret(32);
        let limits = template.limits;
        let booted = self
            .start_container(&id, &token, &template, limits, &template.envs)
            .await;
        let (client, pid) = match booted {
            Ok(b) => b,
            Err(e) => {
                self.destroy_unrecorded(&id).await;
                return Err(e);
            }
        };
        let live = Live {
            id: id.clone(),
            client: client.clone(),
            token: token.clone(),
            commands: Default::default(),
            end_at: Mutex::new(None),
        };
        if let Err(e) = self.start_template_process(&live, &template).await {
            self.destroy_unrecorded(&id).await;
            return Err(e);
        }
        // The death monitor ignores sandboxes that are not live; once claimed it covers this one.
        self.watch(id.clone(), pid);
        Ok(PooledSandbox {
            id,
            ready_at: Utc::now(),
            token,
            pid,
            client,
            limits,
        })
    }

    /// Removes a sandbox that has no store record (pooled or half-booted).
    pub(crate) async fn destroy_unrecorded(&self, id: &str) {
        let runtime = self.inner.runtime.clone();
        let cid = id.to_string();
        let res = tokio::task::spawn_blocking(move || {
            let _ = runtime.kill(&cid);
            runtime.delete(&cid)
        })
        .await;
        if !matches!(res, Ok(Ok(()))) {
            tracing::warn!(sandbox_id = %id, "cannot remove pooled sandbox");
        }
    }

    /// Takes an idle sandbox of this template booted with exactly these limits, if any. Counts
    /// the hit or miss for templates that have a pool.
    pub(crate) async fn claim_pooled(
        &self,
        template: &Template,
        limits: Limits,
    ) -> Option<PooledSandbox> {
        loop {
            let candidate = {
                let mut m = self.inner.pools.pools.lock().ok()?;
                let p = m.get_mut(&template.id)?;
                p.settings?;
                let pos = p.idle.iter().position(|s| s.limits == limits);
                match pos.and_then(|i| p.idle.remove(i)) {
                    Some(sb) => Some(sb),
                    None => {
                        p.misses.fetch_add(1, Ordering::Relaxed);
                        crate::metrics::pool_miss();
                        return None;
                    }
                }
            };
            self.inner.pools.wake.notify_one();
            let sb = candidate?;
            // A pooled sandbox may have died while idle; the health check costs well under 1 ms.
            if sb.client.health().await.is_ok() {
                if let Ok(m) = self.inner.pools.pools.lock() {
                    if let Some(p) = m.get(&template.id) {
                        p.hits.fetch_add(1, Ordering::Relaxed);
                    }
                }
                crate::metrics::pool_hit();
                return Some(sb);
            }
            self.destroy_unrecorded(&sb.id).await;
        }
    }

    /// Creates or changes the pool of a template.
    pub async fn set_pool(
        &self,
        template_id_or_name: &str,
        min_idle: u32,
        max: Option<u32>,
    ) -> CoreResult<PoolStatus> {
        let template = self.inner.catalog.resolve(template_id_or_name).await?;
        if min_idle > MAX_POOL_SIZE {
            return Err(CoreError::invalid(format!(
                "minIdle must be at most {MAX_POOL_SIZE} (got {min_idle})"
            )));
        }
        let max = max.unwrap_or(min_idle);
        if max < min_idle || max > MAX_POOL_SIZE {
            return Err(CoreError::invalid(format!(
                "max must be between minIdle ({min_idle}) and {MAX_POOL_SIZE} (got {max})"
            )));
        }
        let mut surplus = Vec::new();
        if let Ok(mut m) = self.inner.pools.pools.lock() {
            let p = m.entry(template.id.clone()).or_default();
            p.settings = Some(PoolSettings { min_idle, max });
            while p.idle.len() as u32 > max {
                if let Some(sb) = p.idle.pop_back() {
                    surplus.push(sb.id);
                }
            }
        }
        for id in surplus {
            self.destroy_unrecorded(&id).await;
        }
        self.save_pools();
        self.inner.pools.wake.notify_one();
        self.pool(&template.id)
    }

    /// Removes a pool and its idle sandboxes.
    pub async fn delete_pool(&self, template_id_or_name: &str) -> CoreResult<()> {
        let template = self.inner.catalog.resolve(template_id_or_name).await?;
        let idle: Vec<PooledSandbox> = {
            let mut m = self
                .inner
                .pools
                .pools
                .lock()
                .map_err(|_| CoreError::internal("pool lock poisoned"))?;
            match m.get_mut(&template.id) {
                Some(p) if p.settings.is_some() => {
                    p.settings = None;
                    p.idle.drain(..).collect()
                }
                _ => {
                    return Err(CoreError::not_found(format!(
                        "template '{}' has no pool",
                        template.id
                    )))
                }
            }
        };
        for sb in idle {
            self.destroy_unrecorded(&sb.id).await;
        }
        self.save_pools();
        Ok(())
    }

    /// One pool's status.
    pub fn pool(&self, template_id: &str) -> CoreResult<PoolStatus> {
        self.pools()
            .into_iter()
            .find(|p| p.template_id == template_id)
            .ok_or_else(|| CoreError::not_found(format!("template '{template_id}' has no pool")))
    }

    /// Pool status by template name or id (resolving names).
    pub async fn pool_by_name(&self, template_id_or_name: &str) -> CoreResult<PoolStatus> {
        let template = self.inner.catalog.resolve(template_id_or_name).await?;
        self.pool(&template.id)
    }

    /// Every configured pool.
    pub fn pools(&self) -> Vec<PoolStatus> {
        self.inner
            .pools
            .pools
            .lock()
            .map(|m| {
                m.iter()
                    .filter_map(|(t, p)| {
                        Some(PoolStatus {
                            template_id: t.clone(),
                            settings: p.settings?,
                            idle: p.idle.len() as u32,
                            booting: p.booting,
                            hits: p.hits.load(Ordering::Relaxed),
                            misses: p.misses.load(Ordering::Relaxed),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Idle sandboxes of a pool.
    pub async fn pool_sandboxes(
        &self,
        template_id_or_name: &str,
    ) -> CoreResult<Vec<PooledSandbox>> {
        let template = self.inner.catalog.resolve(template_id_or_name).await?;
        let m = self
            .inner
            .pools
            .pools
            .lock()
            .map_err(|_| CoreError::internal("pool lock poisoned"))?;
        match m.get(&template.id) {
            Some(p) if p.settings.is_some() => Ok(p.idle.iter().cloned().collect()),
            _ => Err(CoreError::not_found(format!(
                "template '{}' has no pool",
                template.id
            ))),
        }
    }
}
