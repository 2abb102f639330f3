//! Template shapes: create (image, recipe or Dockerfile), the template view and its list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `POST /v1/templates` (JSON, or the `spec` part of a multipart upload). Exactly one source:
/// `image`, `recipe`, `dockerfile`, or an uploaded OCI layout `.tar` (multipart part `image`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTemplateRequest {
    /// Unique name; an existing name is rebuilt in place (unchanged steps come from the cache).
    pub name: String,
    /// Image reference to pull, e.g. `127.0.0.1:5000/team/py:1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Pull over plain HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_registry: Option<bool>,
    /// Registry credentials (for `image` and a recipe's `from.image`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<RegistryAuth>,
    /// A build recipe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe: Option<RecipeSpec>,
    /// A Dockerfile (FROM/RUN/COPY/ENV/WORKDIR/USER/CMD subset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// Default CPU cores of sandboxes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<u64>,
    /// Default memory in MiB.
    #[serde(rename = "memoryMB", skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Default disk in MiB.
    #[serde(rename = "diskSizeMB", skip_serializing_if = "Option::is_none")]
    pub disk_size_mb: Option<u64>,
    /// Default environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envs: Option<BTreeMap<String, String>>,
}

/// Registry credentials: `{"username","password"}` or `{"token"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum RegistryAuth {
    /// HTTP basic.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// Bearer token.
    Token {
        /// The token.
        token: String,
    },
}

/// A build recipe.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipeSpec {
    /// Base.
    pub from: RecipeFrom,
    /// Steps, in order.
    #[serde(default)]
    pub steps: Vec<RecipeStep>,
    /// Started in the background when a sandbox boots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Polled until it exits 0 before a sandbox create returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
}

/// A recipe's base: `{"template"}`, `{"image"}` or `{"debian","packages"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum RecipeFrom {
    /// Another template.
    Template {
        /// Id or name.
        template: String,
    },
    /// A registry image.
    Image {
        /// Reference.
        image: String,
        /// Plain HTTP.
        #[serde(
            default,
            rename = "insecureRegistry",
            skip_serializing_if = "Option::is_none"
        )]
        insecure_registry: Option<bool>,
    },
    /// A Debian suite bootstrapped with mmdebstrap (minbase).
    Debian {
        /// Suite, e.g. `bookworm`.
        debian: String,
        /// Extra packages.
        #[serde(default)]
        packages: Vec<String>,
    },
}

/// One step: `{"run"}`, `{"copy":{src,dest}}`, `{"env":{..}}`, `{"workdir"}` or `{"user"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RecipeStep {
    /// Shell command (`/bin/sh -c`).
    Run(String),
    /// Copy an uploaded file (or directory prefix of uploaded names) to `dest`.
    Copy(CopyStepSpec),
    /// Environment variables.
    Env(BTreeMap<String, String>),
    /// Working directory.
    Workdir(String),
    /// User.
    User(String),
}

/// `copy` step arguments.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyStepSpec {
    /// Name of an uploaded part.
    pub src: String,
    /// Absolute destination.
    pub dest: String,
}

/// A template.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    /// Stable id.
    pub id: String,
    /// Unique name, usable as `templateId`.
    pub name: String,
    /// `building`, `ready` or `error`.
    pub status: String,
    /// `host-base`, `image`, `archive`, `recipe` or `dockerfile`.
    pub kind: String,
    /// Why the build failed.
    pub error: Option<String>,
    /// Default CPU cores.
    pub cpu_count: u32,
    /// Default memory in MiB.
    #[serde(rename = "memoryMB")]
    pub memory_mb: u64,
    /// Default disk in MiB.
    #[serde(rename = "diskSizeMB")]
    pub disk_size_mb: u64,
    /// Default environment.
    pub envs: BTreeMap<String, String>,
    /// Default user.
    pub user: Option<String>,
    /// Default working directory.
    pub workdir: Option<String>,
    /// Start command.
    pub start: Option<String>,
    /// Ready check.
    pub ready: Option<String>,
    /// Number of filesystem layers.
    pub layers: usize,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/templates`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TemplateList {
    /// Templates, oldest first.
    pub items: Vec<Template>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn recipe_shapes_parse() {
        let r: CreateTemplateRequest = serde_json::from_str(
            r#"{"name":"py","recipe":{"from":{"debian":"bookworm","packages":["python3"]},
            "steps":[{"run":"pip install x"},{"copy":{"src":"a","dest":"/app/a"}},
            {"env":{"K":"V"}},{"workdir":"/app"},{"user":"user"}],"start":"s","ready":"r"},
            "auth":{"token":"t"}}"#,
        )
        .unwrap();
        let recipe = r.recipe.unwrap();
        assert!(matches!(recipe.from, RecipeFrom::Debian { .. }));
        assert_eq!(recipe.steps.len(), 5);
        assert!(matches!(r.auth, Some(RegistryAuth::Token { .. })));
        let t: RecipeFrom = serde_json::from_str(r#"{"template":"base"}"#).unwrap();
        assert!(matches!(t, RecipeFrom::Template { .. }));
        assert!(serde_json::from_str::<RecipeFrom>(r#"{"template":"a","x":1}"#).is_err());
    }
}
