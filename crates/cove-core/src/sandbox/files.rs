//! Filesystem operations, each one agent call. Paths are resolved by the agent inside the sandbox
//! (relative ones against `/home/user`), so nothing here can point outside the sandbox's root.

use super::SandboxService;
use crate::error::{CoreError, CoreResult};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use cove_agent_client::ByteStream;
use cove_proto::filesystem::{
    EntryInfo, FileType, ListDirRequest, ListDirResponse, MakeDirRequest, MakeDirResponse,
    MoveRequest, MoveResponse, RemoveRequest, RemoveResponse, StatRequest, StatResponse,
};
use cove_types::ErrorCode;
use futures_util::Stream;

/// Kind of a filesystem entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Regular file (or anything that is not a dir or link).
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
}

impl EntryKind {
    /// `file`, `dir` or `symlink`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
        }
    }
}

/// A stat result.
#[derive(Debug, Clone)]
pub struct DirEntry {
    /// Base name.
    pub name: String,
    /// Absolute path in the sandbox.
    pub path: String,
    /// Kind.
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Modification time.
    pub modified: Option<DateTime<Utc>>,
    /// Link target.
    pub symlink_target: Option<String>,
}

impl From<EntryInfo> for DirEntry {
    fn from(e: EntryInfo) -> Self {
        let kind = if e.is_symlink || e.r#type == FileType::Symlink {
            EntryKind::Symlink
        } else if e.r#type == FileType::Directory {
            EntryKind::Dir
        } else {
            EntryKind::File
        };
        DirEntry {
            name: e.name,
            path: e.path,
            kind,
            size: e.size.max(0) as u64,
            mode: e.mode,
            modified: e
                .modified_time
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            symlink_target: e.symlink_target,
        }
    }
}

fn check_path(path: &str) -> CoreResult<()> {
    if path.is_empty() {
        return Err(CoreError::invalid("path must not be empty"));
    }
    if path.contains('\0') {
        return Err(CoreError::invalid("path must not contain NUL"));
    }
    Ok(())
}

fn with_path(path: &str) -> impl FnOnce(cove_agent_client::AgentError) -> CoreError + '_ {
    move |e| {
        let e = CoreError::from(e);
        match e.code() {
            ErrorCode::NotFound => {
                CoreError::not_found(format!("{path}: no such file or directory"))
            }
            _ => e,
        }
    }
}

impl SandboxService {
    /// Stats a path.
    pub async fn stat(&self, id: &str, path: &str) -> CoreResult<DirEntry> {
        check_path(path)?;
        let live = self.agent(id).await?;
        let resp: StatResponse = live
            .client
            .unary(
                "filesystem.Filesystem/Stat",
                &StatRequest { path: path.into() },
                None,
            )
            .await
            .map_err(with_path(path))?;
        resp.entry
            .map(DirEntry::from)
            .ok_or_else(|| CoreError::internal("agent Stat returned no entry"))
    }

    /// Lists a directory (one level).
    pub async fn list_dir(&self, id: &str, path: &str) -> CoreResult<Vec<DirEntry>> {
        check_path(path)?;
        let live = self.agent(id).await?;
        let resp: ListDirResponse = live
            .client
            .unary(
                "filesystem.Filesystem/ListDir",
                &ListDirRequest {
                    path: path.into(),
                    depth: 1,
                },
                None,
            )
            .await
            .map_err(with_path(path))?;
        Ok(resp.entries.into_iter().map(DirEntry::from).collect())
    }

    /// Opens a file for streaming download.
    pub async fn read_file(&self, id: &str, path: &str) -> CoreResult<ByteStream> {
        check_path(path)?;
        let live = self.agent(id).await?;
        live.client
            .download(path, None)
            .await
            .map_err(with_path(path))
    }

    /// Writes a file from a stream (parents created, owned by the default user).
    pub async fn write_file<S>(&self, id: &str, path: &str, body: S) -> CoreResult<DirEntry>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        check_path(path)?;
        let live = self.agent(id).await?;
        let written = live
            .client
            .upload(path, None, body)
            .await
            .map_err(with_path(path))?;
        self.stat(id, &written).await
    }

    /// Removes a file or directory (recursively).
    pub async fn remove(&self, id: &str, path: &str) -> CoreResult<()> {
        check_path(path)?;
        let live = self.agent(id).await?;
        let _: RemoveResponse = live
            .client
            .unary(
                "filesystem.Filesystem/Remove",
                &RemoveRequest { path: path.into() },
                None,
            )
            .await
            .map_err(with_path(path))?;
        Ok(())
    }

    /// Creates a directory and its parents; an existing directory is fine.
    pub async fn mkdir(&self, id: &str, path: &str) -> CoreResult<DirEntry> {
        check_path(path)?;
        let live = self.agent(id).await?;
        let resp: Result<MakeDirResponse, _> = live
            .client
            .unary(
                "filesystem.Filesystem/MakeDir",
                &MakeDirRequest { path: path.into() },
                None,
            )
            .await;
        match resp {
            Ok(MakeDirResponse { entry: Some(e) }) => Ok(e.into()),
            Ok(MakeDirResponse { entry: None }) => self.stat(id, path).await,
            Err(e) if e.code() == cove_proto::Code::AlreadyExists => {
                let st = self.stat(id, path).await?;
                if st.kind == EntryKind::Dir {
                    Ok(st)
                } else {
                    Err(CoreError::new(
                        ErrorCode::AlreadyExists,
                        format!("{path} exists and is not a directory"),
                    ))
                }
            }
            Err(e) => Err(with_path(path)(e)),
        }
    }

    /// Renames (moves) a path.
    pub async fn rename(&self, id: &str, from: &str, to: &str) -> CoreResult<DirEntry> {
        check_path(from)?;
        check_path(to)?;
        let live = self.agent(id).await?;
        let resp: MoveResponse = live
            .client
            .unary(
                "filesystem.Filesystem/Move",
                &MoveRequest {
                    source: from.into(),
                    destination: to.into(),
                },
                None,
            )
            .await
            .map_err(with_path(from))?;
        match resp.entry {
            Some(e) => Ok(e.into()),
            None => self.stat(id, to).await,
        }
    }
}
