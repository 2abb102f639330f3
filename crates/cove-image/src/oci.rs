//! The slices of the OCI image spec (and Docker's v2 schema, which has the same shape) that Cove
//! reads: descriptors, indexes, manifests and the image config. Unknown fields are ignored.

use crate::digest::Digest;
use crate::error::{ImageError, ImageResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// OCI image index media type.
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest media type.
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list media type.
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest media type.
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A content descriptor.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(default)]
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: i64,
    /// Platform, for index entries.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// Annotations (`org.opencontainers.image.ref.name` carries the tag in layouts).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An index entry's platform.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Platform {
    /// e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// e.g. `linux`.
    #[serde(default)]
    pub os: String,
}

/// An image index (or Docker manifest list).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Media type when the document states it.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Entries.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Media type when the document states it.
    #[serde(default)]
    pub media_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// Layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// The runtime defaults of an image config.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// User (name, uid or uid:gid).
    #[serde(default)]
    pub user: Option<String>,
    /// `KEY=VALUE` pairs.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Entrypoint argv.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Default argv.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
}

/// The image config.
#[derive(Debug, Clone, Deserialize)]
pub struct ImageConfig {
    /// Should be `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// Should be `linux`.
    #[serde(default)]
    pub os: String,
    /// Runtime defaults.
    #[serde(default)]
    pub config: Option<RunConfig>,
    /// Layer diff-ids.
    pub rootfs: RootFs,
}

/// `rootfs` of the config.
#[derive(Debug, Clone, Deserialize)]
pub struct RootFs {
    /// Digests of the uncompressed layers, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// True for index / manifest-list documents.
pub fn is_index(media_type: Option<&str>, raw: &serde_json::Value) -> bool {
    match media_type {
        Some(MT_OCI_INDEX) | Some(MT_DOCKER_LIST) => true,
        Some(_) => false,
        // Untyped documents: an index has `manifests`, a manifest has `config`.
        None => raw.get("manifests").is_some() && raw.get("config").is_none(),
    }
}

/// Picks the linux/amd64 entry of an index; a single untyped entry is taken as is.
pub fn pick_platform(index: &Index) -> ImageResult<&Descriptor> {
    let amd64 = index.manifests.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
    });
    if let Some(d) = amd64 {
        return Ok(d);
    }
    match index.manifests.as_slice() {
        [only] if only.platform.is_none() => Ok(only),
        [] => Err(ImageError::Invalid("image index has no manifests".into())),
        _ => Err(ImageError::Invalid(
            "image index has no linux/amd64 manifest".into(),
        )),
    }
}

/// Parses and checks an image config: linux/amd64 (or unstated), one diff-id per layer.
pub fn parse_config(bytes: &[u8], layers: usize) -> ImageResult<(ImageConfig, Vec<Digest>)> {
    let cfg: ImageConfig = serde_json::from_slice(bytes)
        .map_err(|e| ImageError::Invalid(format!("image config: {e}")))?;
    if !(cfg.os.is_empty() || cfg.os == "linux")
        || !(cfg.architecture.is_empty() || cfg.architecture == "amd64")
    {
        return Err(ImageError::Invalid(format!(
            "image is {}/{}, only linux/amd64 runs here",
            cfg.os, cfg.architecture
        )));
    }
    let diff_ids = cfg
        .rootfs
        .diff_ids
        .iter()
        .map(|d| Digest::parse(d))
        .collect::<ImageResult<Vec<_>>>()?;
    if diff_ids.len() != layers {
        return Err(ImageError::Invalid(format!(
            "image config lists {} diff-ids for {layers} layers",
            diff_ids.len()
        )));
    }
    Ok((cfg, diff_ids))
}
