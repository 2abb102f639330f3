//! Warm pools.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `PUT /v1/pools/{template}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetPoolRequest {
    /// Idle sandboxes to keep ready (0..100).
    pub min_idle: u32,
    /// Upper bound on idle sandboxes (default: `minIdle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

/// A pool.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    /// Template id.
    pub template_id: String,
    /// Idle sandboxes kept ready.
    pub min_idle: u32,
    /// Upper bound on idle sandboxes.
    pub max: u32,
    /// Idle sandboxes now.
    pub idle: u32,
    /// Sandboxes booting for the pool now.
    pub booting: u32,
    /// Creates served from the pool since the server started.
    pub hits: u64,
    /// Creates of this template that found no matching idle sandbox.
    pub misses: u64,
}

/// `GET /v1/pools`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PoolList {
    /// Pools by template.
    pub items: Vec<Pool>,
}

/// An idle pooled sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PooledSandbox {
    /// Id it will keep when claimed.
    pub id: String,
    /// When it became ready.
    pub ready_at: DateTime<Utc>,
}

/// `GET /v1/pools/{template}/sandboxes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PooledSandboxList {
    /// Idle sandboxes, oldest first.
    pub items: Vec<PooledSandbox>,
}
