//! Lookups for proxies that forward traffic to a sandbox's agent as is (the E2B envd surface and
//! port routing): by sandbox id, or by access token for old clients that send no sandbox header.

use super::SandboxService;
use crate::error::{CoreError, CoreResult};
use cove_agent_client::AgentClient;
use cove_runtime::Stats;
use subtle::ConstantTimeEq;

/// How to reach a running sandbox's agent.
#[derive(Debug, Clone)]
pub struct AgentRoute {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Client bound to its agent (adds the access token).
    pub client: AgentClient,
}

impl SandboxService {
    /// The agent of a running sandbox, by id or name; `None` when it is not running.
    pub fn route(&self, id: &str) -> Option<AgentRoute> {
        let live = self.inner.live.read().ok()?.get(id).cloned()?;
        Some(AgentRoute {
            sandbox_id: live.id.clone(),
            client: live.client.clone(),
        })
    }

    /// The running sandbox whose access token is `token` (compared in constant time).
    pub fn route_by_token(&self, token: &str) -> Option<AgentRoute> {
        let map = self.inner.live.read().ok()?;
        let mut found = None;
        for live in map.values() {
            if bool::from(live.token.as_bytes().ct_eq(token.as_bytes())) {
                found = Some(AgentRoute {
                    sandbox_id: live.id.clone(),
                    client: live.client.clone(),
                });
            }
        }
        found
    }

    /// Live resource usage of a running sandbox (cgroup numbers).
    pub async fn metrics(&self, id_or_name: &str) -> CoreResult<Stats> {
        let live = self.agent(id_or_name).await?;
        let runtime = self.inner.runtime.clone();
        let id = live.id.clone();
        tokio::task::spawn_blocking(move || runtime.stats(&id))
            .await
            .map_err(|e| CoreError::internal(format!("stats task: {e}")))?
            .map_err(CoreError::from)
    }
}
