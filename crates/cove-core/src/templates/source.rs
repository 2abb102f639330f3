//! The `source` JSON of a template record: how it was made and what it resolved to. Keeping this
//! in the existing column avoids a schema change; the store never looks inside.

use serde::{Deserialize, Serialize};

/// Persisted description of a template.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Source {
    /// `host-base`, `image`, `archive`, `recipe` or `dockerfile`.
    pub(crate) kind: String,
    /// The request that made it, without credentials or uploads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) spec: Option<serde_json::Value>,
    /// Layer ids in the image store, topmost first.
    #[serde(default)]
    pub(crate) layers: Vec<String>,
    /// The layers sit on top of the host-composed `base` template (and its read-only binds).
    #[serde(default)]
    pub(crate) host_base: bool,
    /// Default user of sandboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    /// Default working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) workdir: Option<String>,
    /// Started in the background at boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) start: Option<String>,
    /// Polled until it succeeds before a create returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ready: Option<String>,
    /// The image's own command (informational; not run automatically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cmd: Option<Vec<String>>,
}

impl Source {
    pub(crate) fn parse(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}
