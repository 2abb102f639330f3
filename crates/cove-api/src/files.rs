//! Filesystem shapes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One directory entry or stat result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// Base name.
    pub name: String,
    /// Absolute path inside the sandbox.
    pub path: String,
    /// `file`, `dir` or `symlink`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (e.g. 420 = 0644).
    pub mode: u32,
    /// Last modification.
    pub modified_time: Option<DateTime<Utc>>,
    /// Target of a symlink.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
}

/// `GET /v1/sandboxes/{id}/files` on a directory.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DirListing {
    /// The directory.
    pub path: String,
    /// Its entries (not recursive).
    pub entries: Vec<FileEntry>,
}

/// `GET /v1/sandboxes/{id}/files` on a file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileContent {
    /// The file.
    pub path: String,
    /// Text, or base64 when `encoding` is `base64`.
    pub content: String,
    /// `base64` when the file is not valid UTF-8; absent for text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// One file of a batch write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFile {
    /// Destination (relative to `/home/user`).
    pub path: String,
    /// Content (text, or base64 when `encoding` is `base64`).
    pub content: String,
    /// `utf8` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// `POST /v1/sandboxes/{id}/files`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFilesRequest {
    /// Files to write (parents are created).
    pub files: Vec<WriteFile>,
}

/// Result of a batch write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WriteFilesResponse {
    /// Absolute paths written.
    pub files: Vec<FileEntry>,
}

/// `POST /v1/sandboxes/{id}/files/mkdir`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MkdirRequest {
    /// Directory to create (parents too).
    pub path: String,
}

/// `POST /v1/sandboxes/{id}/files/rename`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    /// Existing path.
    pub from: String,
    /// New path.
    pub to: String,
}
