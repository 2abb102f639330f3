//! API keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/api-keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// Label.
    pub name: String,
    /// `cove` (default: `cove_…`) or `e2b` (`e2b_` + 40 hex, for E2B SDKs that check the shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A key as listed (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// Identifier.
    pub id: String,
    /// Label.
    pub name: String,
    /// First characters of the secret.
    pub prefix: String,
    /// The system key.
    pub is_system: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Answer of a create: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The key's record.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret; store it now.
    pub secret: String,
}

/// `GET /v1/api-keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    /// Oldest first.
    pub items: Vec<ApiKey>,
}
