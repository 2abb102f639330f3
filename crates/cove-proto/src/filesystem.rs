//! Messages of the envd `filesystem.Filesystem` service (`proto/filesystem.proto`) in proto3 JSON
//! form. Timestamps are RFC 3339 strings; `int64` sizes travel as strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The filesystem service's `KeepAlive` has the same (empty) shape as the process one; reusing the
/// type keeps glob imports of both modules unambiguous.
pub use crate::process::KeepAlive;

proto_enum! {
    pub enum FileType {
        Unspecified = 0 => "FILE_TYPE_UNSPECIFIED",
        File = 1 => "FILE_TYPE_FILE",
        Directory = 2 => "FILE_TYPE_DIRECTORY",
        Symlink = 3 => "FILE_TYPE_SYMLINK",
    }
}

proto_enum! {
    pub enum EventType {
        Unspecified = 0 => "EVENT_TYPE_UNSPECIFIED",
        Create = 1 => "EVENT_TYPE_CREATE",
        Write = 2 => "EVENT_TYPE_WRITE",
        Remove = 3 => "EVENT_TYPE_REMOVE",
        Rename = 4 => "EVENT_TYPE_RENAME",
        Chmod = 5 => "EVENT_TYPE_CHMOD",
    }
}

/// Metadata of one filesystem entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EntryInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub r#type: FileType,
    pub path: String,
    #[serde(with = "crate::i64_str")]
    pub size: i64,
    /// Permission bits only, e.g. 0o644 = 420.
    #[serde(deserialize_with = "crate::num::deserialize")]
    pub mode: u32,
    /// Go `FileMode.String()`, e.g. `-rw-r--r--`.
    pub permissions: String,
    pub owner: String,
    pub group: String,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    pub is_symlink: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatRequest {
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MakeDirRequest {
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MakeDirResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MoveRequest {
    pub source: String,
    pub destination: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MoveResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListDirRequest {
    pub path: String,
    /// 0 is treated as 1.
    #[serde(deserialize_with = "crate::num::deserialize")]
    pub depth: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListDirResponse {
    pub entries: Vec<EntryInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RemoveRequest {
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RemoveResponse {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WatchDirRequest {
    pub path: String,
    pub recursive: bool,
    pub include_entry: bool,
    pub allow_network_mounts: bool,
}

/// Proto `WatchDirResponse.StartEvent`: the first message of a watch stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WatchStartEvent {}

/// One message of a watch stream (oneof `event`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WatchDirResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<WatchStartEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FilesystemEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<KeepAlive>,
}

impl WatchDirResponse {
    pub fn start() -> Self {
        WatchDirResponse {
            start: Some(WatchStartEvent {}),
            ..Default::default()
        }
    }

    pub fn event(event: FilesystemEvent) -> Self {
        WatchDirResponse {
            filesystem: Some(event),
            ..Default::default()
        }
    }

    pub fn keepalive() -> Self {
        WatchDirResponse {
            keepalive: Some(KeepAlive {}),
            ..Default::default()
        }
    }
}

/// A change below a watched directory; `name` is relative to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FilesystemEvent {
    pub name: String,
    #[serde(rename = "type")]
    pub r#type: EventType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateWatcherRequest {
    pub path: String,
    pub recursive: bool,
    pub include_entry: bool,
    pub allow_network_mounts: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateWatcherResponse {
    pub watcher_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetWatcherEventsRequest {
    pub watcher_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetWatcherEventsResponse {
    pub events: Vec<FilesystemEvent>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RemoveWatcherRequest {
    pub watcher_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RemoveWatcherResponse {}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = r#"{"name":"a.txt","type":"FILE_TYPE_FILE","path":"/home/user/a.txt","size":"5","mode":420,"permissions":"-rw-r--r--","owner":"user","group":"user","modifiedTime":"2025-01-01T00:00:00Z","symlinkTarget":"/target","metadata":{"k":"v"},"isSymlink":false}"#;

    #[test]
    fn entry_info_roundtrip() {
        let e: EntryInfo = serde_json::from_str(CAPTURED).unwrap_or_default();
        assert_eq!(e.r#type, FileType::File);
        assert_eq!(e.size, 5);
        assert_eq!(e.mode, 0o644);
        assert_eq!(e.modified_time.as_deref(), Some("2025-01-01T00:00:00Z"));
        assert_eq!(e.metadata.get("k").map(String::as_str), Some("v"));
        assert_eq!(serde_json::to_string(&e).unwrap_or_default(), CAPTURED);

        let numeric: EntryInfo =
            serde_json::from_str(r#"{"type":2,"size":12345678901}"#).unwrap_or_default();
        assert_eq!(numeric.r#type, FileType::Directory);
        assert_eq!(numeric.size, 12_345_678_901);
    }

    #[test]
    fn watch_messages() {
        assert_eq!(
            serde_json::to_string(&WatchDirResponse::start()).unwrap_or_default(),
            r#"{"start":{}}"#
        );
        let ev = WatchDirResponse::event(FilesystemEvent {
            name: "sub/x.txt".into(),
            r#type: EventType::Create,
            entry: None,
        });
        assert_eq!(
            serde_json::to_string(&ev).unwrap_or_default(),
            r#"{"filesystem":{"name":"sub/x.txt","type":"EVENT_TYPE_CREATE"}}"#
        );
        let req: CreateWatcherRequest = serde_json::from_str(
            r#"{"path":"/p","recursive":true,"includeEntry":true,"allowNetworkMounts":true}"#,
        )
        .unwrap_or_default();
        assert!(req.recursive && req.include_entry && req.allow_network_mounts);
        let w: GetWatcherEventsRequest =
            serde_json::from_str(r#"{"watcherId":"w1"}"#).unwrap_or_default();
        assert_eq!(w.watcher_id, "w1");
    }
}
