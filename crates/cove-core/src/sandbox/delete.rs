//! Killing and deleting sandboxes. Dead records stay in the store (listing, logs); their container,
//! mounts, cgroups and directories are removed.

use super::SandboxService;
use crate::error::CoreResult;
use chrono::Utc;
use cove_types::SandboxState;

impl SandboxService {
    /// Kills a sandbox by id or name. Idempotent: deleting a dead sandbox succeeds.
    #[tracing::instrument(skip(self))]
    pub async fn delete(&self, id_or_name: &str) -> CoreResult<()> {
        let rec = self.get(id_or_name).await?;
        if rec.state.is_terminal() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        self.teardown(&rec.id, SandboxState::Killed, None).await;
        crate::metrics::DELETE.observe(started.elapsed());
        Ok(())
    }

    /// Removes a sandbox from the live set, destroys its container and records `state`. Only the
    /// caller that removed it from `live` (or that finds it absent while the record is live) does
    /// the work, so concurrent kills are harmless.
    pub(crate) async fn teardown(&self, id: &str, state: SandboxState, reason: Option<String>) {
        if let Ok(mut m) = self.inner.live.write() {
            m.remove(id);
        }
        let store = &self.inner.store;
        let mut rec = match store.get_sandbox(id).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(sandbox_id = %id, error = %e, "teardown: cannot load record");
                return;
            }
        };
        if rec.state.is_terminal() {
            return;
        }
        let _stopping = crate::metrics::InFlight::stopping();
        if rec.state.can_become(SandboxState::Stopping) {
            rec.state = SandboxState::Stopping;
            let _ = store.update_sandbox(&rec).await;
        }
        let runtime = self.inner.runtime.clone();
        let cid = id.to_string();
        let result = tokio::task::spawn_blocking(move || {
            let _ = runtime.kill(&cid);
            runtime.delete(&cid)
        })
        .await;
        let cleanup_error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = &cleanup_error {
            tracing::error!(sandbox_id = %id, error = %e, "sandbox cleanup failed");
        }
        rec.state = state;
        rec.ended_at = Some(Utc::now());
        rec.end_at = None;
        rec.error = reason.clone();
        if let Err(e) = store.update_sandbox(&rec).await {
            tracing::error!(sandbox_id = %id, error = %e, "cannot record sandbox end");
        }
        let kind = if state == SandboxState::Error {
            "error"
        } else {
            "killed"
        };
        let mut msg = reason.unwrap_or_else(|| "deleted".to_string());
        if let Some(e) = cleanup_error {
            msg.push_str(&format!(" (cleanup error: {e})"));
        }
        crate::metrics::ended(state == SandboxState::Error);
        self.inner.events.record(id, kind, msg);
    }
}
