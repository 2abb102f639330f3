//! Startup reconciliation: make the store and the runtime agree after a restart (or a crash).
//! Running sandboxes are reattached, records of vanished ones are closed, and containers, mounts
//! and directories nobody owns are removed.

use super::{Live, SandboxService};
use crate::error::CoreResult;
use cove_agent_client::{AgentClient, UnixTransport};
use cove_runtime::ContainerState;
use cove_types::SandboxState;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

impl SandboxService {
    pub(crate) async fn reconcile(&self) -> CoreResult<()> {
        let records = self.inner.store.list_live_sandboxes().await?;
        let mut known = HashSet::new();
        for mut rec in records {
            known.insert(rec.id.clone());
            let runtime = self.inner.runtime.clone();
            let cid = rec.id.clone();
            let state = tokio::task::spawn_blocking(move || runtime.state(&cid))
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or(ContainerState::Missing);
            let socket = self.inner.runtime.socket_path(&rec.id);
            let client = AgentClient::new(
                Arc::new(UnixTransport::new(socket)),
                Some(rec.access_token.clone()),
            );
            let healthy = matches!(state, ContainerState::Running { .. })
                && tokio::time::timeout(Duration::from_secs(2), client.health())
                    .await
                    .map(|r| r.is_ok())
                    .unwrap_or(false);
            match (state, rec.state, healthy) {
                (
                    ContainerState::Running { pid },
                    SandboxState::Running | SandboxState::Paused,
                    true,
                ) => {
                    tracing::info!(sandbox_id = %rec.id, "reattached running sandbox");
                    rec.pid = Some(pid);
                    let _ = self.inner.store.update_sandbox(&rec).await;
                    let live = Arc::new(Live {
                        id: rec.id.clone(),
                        client,
                        token: rec.access_token.clone(),
                        commands: Default::default(),
                        end_at: Mutex::new(rec.end_at),
                    });
                    if let Ok(mut m) = self.inner.live.write() {
                        m.insert(rec.id.clone(), live);
                    }
                    self.inner
                        .events
                        .record(&rec.id, "reattached", "control plane restarted");
                    self.watch(rec.id.clone(), pid);
                }
                _ => {
                    let reason = match rec.state {
                        SandboxState::Booting => {
                            "control plane restarted while the sandbox was booting"
                        }
                        SandboxState::Stopping => {
                            "control plane restarted while the sandbox was stopping"
                        }
                        _ => "sandbox was gone after a control plane restart",
                    };
                    let final_state = if rec.state == SandboxState::Stopping {
                        SandboxState::Killed
                    } else {
                        SandboxState::Error
                    };
                    tracing::warn!(sandbox_id = %rec.id, reason, "closing sandbox record");
                    self.teardown(&rec.id, final_state, Some(reason.to_string()))
                        .await;
                }
            }
        }
        // Orphans: runtime state with no live record.
        let runtime = self.inner.runtime.clone();
        let ids = tokio::task::spawn_blocking(move || runtime.list())
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        for id in ids.into_iter().filter(|id| !known.contains(id)) {
            tracing::warn!(sandbox_id = %id, "removing orphaned sandbox resources");
            let runtime = self.inner.runtime.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let _ = runtime.kill(&id);
                runtime.delete(&id)
            })
            .await;
        }
        Ok(())
    }
}
