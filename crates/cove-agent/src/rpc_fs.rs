//! Handlers of the `filesystem.Filesystem` Connect service.

use std::io;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::Response;
use cove_proto::filesystem::{
    CreateWatcherRequest, CreateWatcherResponse, EntryInfo, GetWatcherEventsRequest,
    GetWatcherEventsResponse, ListDirRequest, ListDirResponse, MakeDirRequest, MakeDirResponse,
    MoveRequest, MoveResponse, RemoveRequest, RemoveResponse, RemoveWatcherRequest,
    RemoveWatcherResponse, StatRequest, StatResponse, WatchDirRequest, WatchDirResponse,
};
use cove_proto::{Code, ConnectError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::connect;
use crate::error::io_to_connect;
use crate::fsinfo::{create_dirs_owned, entry_info};
use crate::state::{Identity, Shared};
use crate::users::Names;
use crate::watch::{self, WatchSpec};

pub async fn handle(
    State(st): State<Shared>,
    UrlPath(method): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match method.as_str() {
        "Stat" => blocking(&st, &headers, body, stat).await,
        "MakeDir" => blocking(&st, &headers, body, make_dir).await,
        "Move" => blocking(&st, &headers, body, move_entry).await,
        "ListDir" => blocking(&st, &headers, body, list_dir).await,
        "Remove" => blocking(&st, &headers, body, remove).await,
        "WatchDir" => watch_dir(st, headers, body).await,
        "CreateWatcher" => connect::unary(create_watcher(&st, &headers, body).await),
        "GetWatcherEvents" => connect::unary(get_events(&st, &headers, body).await),
        "RemoveWatcher" => connect::unary(remove_watcher(&st, &headers, body).await),
        other => connect::unary::<()>(Err(ConnectError::new(
            Code::Unimplemented,
            format!("filesystem.Filesystem/{other} is not implemented"),
        ))),
    }
}

async fn prepare<Req: DeserializeOwned>(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Identity, Req), ConnectError> {
    let name = connect::basic_auth_user(headers)?;
    let id = st.identity_rpc(name.as_deref())?;
    let bytes = connect::read_body(body, connect::MAX_UNARY_BODY).await?;
    Ok((id, connect::parse_json(&bytes)?))
}

/// Runs a filesystem call on the blocking pool so slow disks never stall the runtime.
async fn blocking<Req, Resp>(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
    f: fn(&Identity, Req) -> Result<Resp, ConnectError>,
) -> Response
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    let result = async {
        let (id, req) = prepare(st, headers, body).await?;
        tokio::task::spawn_blocking(move || f(&id, req))
            .await
            .map_err(crate::error::internal)?
    }
    .await;
    connect::unary(result)
}

fn shown(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn stat_entry(path: &Path) -> Result<EntryInfo, ConnectError> {
    entry_info(path, &Names::load()).map_err(|e| not_found_or(&e, path))
}

fn not_found_or(e: &io::Error, path: &Path) -> ConnectError {
    if e.kind() == io::ErrorKind::NotFound {
        ConnectError::new(
            Code::NotFound,
            format!("path '{}' does not exist", shown(path)),
        )
    } else {
        io_to_connect(e, &shown(path))
    }
}

fn stat(id: &Identity, req: StatRequest) -> Result<StatResponse, ConnectError> {
    let path = id.resolve(&req.path);
    Ok(StatResponse {
        entry: Some(stat_entry(&path)?),
    })
}

fn make_dir(id: &Identity, req: MakeDirRequest) -> Result<MakeDirResponse, ConnectError> {
    let path = id.resolve(&req.path);
    match std::fs::symlink_metadata(&path) {
        Ok(md) if md.is_dir() => {
            return Err(ConnectError::new(
                Code::AlreadyExists,
                format!("directory '{}' already exists", shown(&path)),
            ))
        }
        Ok(_) => {
            return Err(ConnectError::new(
                Code::AlreadyExists,
                format!(
                    "path '{}' already exists and is not a directory",
                    shown(&path)
                ),
            ))
        }
        Err(_) => {}
    }
    create_dirs_owned(&path, &id.user).map_err(|e| io_to_connect(&e, &shown(&path)))?;
    Ok(MakeDirResponse {
        entry: Some(stat_entry(&path)?),
    })
}

fn move_entry(id: &Identity, req: MoveRequest) -> Result<MoveResponse, ConnectError> {
    let src = id.resolve(&req.source);
    let dst = id.resolve(&req.destination);
    std::fs::symlink_metadata(&src).map_err(|e| not_found_or(&e, &src))?;
    if let Some(parent) = dst.parent() {
        create_dirs_owned(parent, &id.user).map_err(|e| io_to_connect(&e, &shown(parent)))?;
    }
    match std::fs::rename(&src, &dst) {
        Ok(()) => {}
        // Different mounts (e.g. a tmpfs /tmp): regular files can still be copied over.
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) && src.is_file() => {
            std::fs::copy(&src, &dst).map_err(|e| io_to_connect(&e, &shown(&dst)))?;
            std::fs::remove_file(&src).map_err(|e| io_to_connect(&e, &shown(&src)))?;
        }
        Err(e) => return Err(io_to_connect(&e, &shown(&src))),
    }
    Ok(MoveResponse {
        entry: Some(stat_entry(&dst)?),
    })
}

fn list_dir(id: &Identity, req: ListDirRequest) -> Result<ListDirResponse, ConnectError> {
    let root = id.resolve(&req.path);
    let md = std::fs::metadata(&root).map_err(|e| not_found_or(&e, &root))?;
    if !md.is_dir() {
        return Err(ConnectError::new(
            Code::InvalidArgument,
            format!("path '{}' is not a directory", shown(&root)),
        ));
    }
    let depth = req.depth.max(1);
    let names = Names::load();
    let mut entries = Vec::new();
    walk(&root, depth, &names, &mut entries).map_err(|e| io_to_connect(&e, &shown(&root)))?;
    Ok(ListDirResponse { entries })
}

fn walk(dir: &Path, depth: u32, names: &Names, out: &mut Vec<EntryInfo>) -> io::Result<()> {
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .collect();
    children.sort();
    for child in children {
        // Entries can vanish between readdir and lstat; that is not an error for the listing.
        let Ok(info) = entry_info(&child, names) else {
            continue;
        };
        let is_dir = info.r#type == cove_proto::filesystem::FileType::Directory;
        out.push(info);
        if is_dir && depth > 1 {
            let _ = walk(&child, depth - 1, names, out);
        }
    }
    Ok(())
}

fn remove(id: &Identity, req: RemoveRequest) -> Result<RemoveResponse, ConnectError> {
    let path = id.resolve(&req.path);
    let md = std::fs::symlink_metadata(&path).map_err(|e| not_found_or(&e, &path))?;
    let result = if md.is_dir() {
        std::fs::remove_dir_all(&path)
    } else {
        std::fs::remove_file(&path)
    };
    result.map_err(|e| io_to_connect(&e, &shown(&path)))?;
    Ok(RemoveResponse {})
}

async fn create_watcher(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<CreateWatcherResponse, ConnectError> {
    let (id, req): (Identity, CreateWatcherRequest) = prepare(st, headers, body).await?;
    let watcher_id = st.watchers.create(WatchSpec {
        root: id.resolve(&req.path),
        recursive: req.recursive,
        include_entry: req.include_entry,
    })?;
    Ok(CreateWatcherResponse { watcher_id })
}

async fn get_events(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<GetWatcherEventsResponse, ConnectError> {
    let (_, req): (Identity, GetWatcherEventsRequest) = prepare(st, headers, body).await?;
    Ok(GetWatcherEventsResponse {
        events: st.watchers.take_events(&req.watcher_id)?,
    })
}

async fn remove_watcher(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<RemoveWatcherResponse, ConnectError> {
    let (_, req): (Identity, RemoveWatcherRequest) = prepare(st, headers, body).await?;
    st.watchers.remove(&req.watcher_id)?;
    Ok(RemoveWatcherResponse {})
}

async fn watch_dir(st: Shared, headers: HeaderMap, body: Body) -> Response {
    let started = async {
        let name = connect::basic_auth_user(&headers)?;
        let id = st.identity_rpc(name.as_deref())?;
        let req: WatchDirRequest = connect::read_stream_request(body).await?;
        watch::start(WatchSpec {
            root: id.resolve(&req.path),
            recursive: req.recursive,
            include_entry: req.include_entry,
        })
    }
    .await;
    let (handle, mut rx) = match started {
        Ok(w) => w,
        Err(e) => return connect::stream_error(e),
    };
    let keepalive = connect::keepalive_interval(&headers);
    let deadline = connect::connect_timeout(&headers);
    let (out, resp) = connect::stream_response();
    tokio::spawn(async move {
        let stop = async move {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::pin!(stop);
        let mut result = None;
        if out.send(&WatchDirResponse::start()).await {
            let mut next_ping = tokio::time::Instant::now() + keepalive;
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Some(ev) => {
                            if !out.send(&WatchDirResponse::event(ev)).await {
                                break;
                            }
                            next_ping = tokio::time::Instant::now() + keepalive;
                        }
                        None => {
                            result = Some(None);
                            break;
                        }
                    },
                    _ = tokio::time::sleep_until(next_ping) => {
                        if !out.send(&WatchDirResponse::keepalive()).await {
                            break;
                        }
                        next_ping = tokio::time::Instant::now() + keepalive;
                    }
                    _ = &mut stop => {
                        result = Some(Some(ConnectError::new(Code::DeadlineExceeded, "watch deadline exceeded")));
                        break;
                    }
                    _ = out.closed() => break,
                }
            }
        }
        handle.abort();
        if let Some(err) = result {
            out.finish(err).await;
        }
    });
    resp
}
