//! Directory watching with inotify, shared by the streaming `WatchDir` and the polling
//! `CreateWatcher`/`GetWatcherEvents`/`RemoveWatcher` trio. Recursive watches add a watch for every
//! subdirectory, including ones created later. Event names are relative to the watched directory.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cove_proto::filesystem::{EventType, FilesystemEvent};
use cove_proto::{Code, ConnectError};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::fsinfo;
use crate::users::Names;

/// Events kept for a polling watcher between two `GetWatcherEvents` calls.
const MAX_PENDING: usize = 10_000;

struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub root: PathBuf,
    pub recursive: bool,
    pub include_entry: bool,
}

fn mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_DONT_FOLLOW
}

struct Tree {
    ino: AsyncFd<InotifyFd>,
    dirs: HashMap<WatchDescriptor, PathBuf>,
    root: PathBuf,
}

impl Tree {
    /// Watches `rel` (relative to root) and, if recursive, every directory below it.
    fn add(&mut self, rel: &Path, recursive: bool) -> nix::Result<()> {
        let abs = self.root.join(rel);
        let wd = self.ino.get_ref().0.add_watch(&abs, mask())?;
        self.dirs.insert(wd, rel.to_path_buf());
        if recursive {
            if let Ok(rd) = std::fs::read_dir(&abs) {
                for entry in rd.flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        // Subdirectories may vanish or be unreadable; skip them.
                        let _ = self.add(&rel.join(entry.file_name()), true);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Starts watching; fails up front if the path is missing or not a directory.
pub fn start(
    spec: WatchSpec,
) -> Result<(JoinHandle<()>, mpsc::Receiver<FilesystemEvent>), ConnectError> {
    let shown = spec.root.to_string_lossy().into_owned();
    match std::fs::metadata(&spec.root) {
        Err(e) => return Err(crate::error::io_to_connect(&e, &shown)),
        Ok(md) if !md.is_dir() => {
            return Err(ConnectError::new(
                Code::InvalidArgument,
                format!("path '{shown}' is not a directory"),
            ))
        }
        Ok(_) => {}
    }
    let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .map_err(|e| crate::error::internal(format!("inotify: {e}")))?;
    // SAFETY: InotifyFd owns the inotify fd and always reports that same fd.
    let ino = unsafe { AsyncFd::register(InotifyFd(ino)) }
        .map_err(|e| crate::error::internal(std::io::Error::from(e)))?;
    let mut tree = Tree {
        ino,
        dirs: HashMap::new(),
        root: spec.root.clone(),
    };
    tree.add(Path::new(""), spec.recursive)
        .map_err(|e| crate::error::internal(format!("watching {shown}: {e}")))?;
    let (tx, rx) = mpsc::channel(1024);
    let handle = tokio::spawn(run(tree, spec, tx));
    Ok((handle, rx))
}

async fn run(mut tree: Tree, spec: WatchSpec, tx: mpsc::Sender<FilesystemEvent>) {
    let names = Names::load();
    loop {
        let events = {
            let Ok(mut guard) = tree.ino.readable().await else {
                return;
            };
            match guard.try_io(|i| i.get_ref().0.read_events().map_err(std::io::Error::from)) {
                Ok(Ok(events)) => events,
                Ok(Err(_)) => return,
                Err(_would_block) => continue,
            }
        };
        for ev in events {
            let m = ev.mask;
            if m.contains(AddWatchFlags::IN_IGNORED) {
                tree.dirs.remove(&ev.wd);
                continue;
            }
            let Some(dir) = tree.dirs.get(&ev.wd).cloned() else {
                continue;
            };
            let is_self = m.intersects(AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF);
            // Subdirectory self-events duplicate the parent's DELETE/MOVED_FROM; only the root's
            // own removal is news.
            if is_self && !dir.as_os_str().is_empty() {
                continue;
            }
            let rel = match &ev.name {
                Some(n) => dir.join(n),
                None => dir.clone(),
            };
            let kind = if m.intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO) {
                EventType::Create
            } else if m.contains(AddWatchFlags::IN_MODIFY) {
                EventType::Write
            } else if m.contains(AddWatchFlags::IN_ATTRIB) {
                EventType::Chmod
            } else if m.intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_DELETE_SELF) {
                EventType::Remove
            } else if m.intersects(AddWatchFlags::IN_MOVED_FROM | AddWatchFlags::IN_MOVE_SELF) {
                EventType::Rename
            } else {
                continue;
            };
            let abs = spec.root.join(&rel);
            if kind == EventType::Create && spec.recursive && m.contains(AddWatchFlags::IN_ISDIR) {
                let _ = tree.add(&rel, true);
            }
            let entry = (spec.include_entry
                && matches!(
                    kind,
                    EventType::Create | EventType::Write | EventType::Chmod
                ))
            .then(|| fsinfo::entry_info(&abs, &names).ok())
            .flatten();
            let event = FilesystemEvent {
                name: rel.to_string_lossy().into_owned(),
                r#type: kind,
                entry,
            };
            if tx.send(event).await.is_err() {
                return;
            }
            if is_self {
                return;
            }
        }
    }
}

struct Polled {
    watcher: JoinHandle<()>,
    collector: JoinHandle<()>,
    events: Arc<Mutex<Vec<FilesystemEvent>>>,
}

/// Watchers of the polling API, keyed by id.
#[derive(Default)]
pub struct Watchers {
    inner: Mutex<HashMap<String, Polled>>,
    next: std::sync::atomic::AtomicU64,
}

impl Watchers {
    pub fn create(&self, spec: WatchSpec) -> Result<String, ConnectError> {
        let (watcher, mut rx) = start(spec)?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let collector = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let mut buf = sink.lock().unwrap_or_else(|p| p.into_inner());
                if buf.len() >= MAX_PENDING {
                    buf.remove(0);
                }
                buf.push(ev);
            }
        });
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("w{}-{n}", std::process::id());
        self.lock().insert(
            id.clone(),
            Polled {
                watcher,
                collector,
                events,
            },
        );
        Ok(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Polled>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn take_events(&self, id: &str) -> Result<Vec<FilesystemEvent>, ConnectError> {
        let map = self.lock();
        let w = map.get(id).ok_or_else(|| not_found(id))?;
        let mut buf = w.events.lock().unwrap_or_else(|p| p.into_inner());
        Ok(std::mem::take(&mut *buf))
    }

    pub fn remove(&self, id: &str) -> Result<(), ConnectError> {
        let w = self.lock().remove(id).ok_or_else(|| not_found(id))?;
        w.watcher.abort();
        w.collector.abort();
        Ok(())
    }
}

fn not_found(id: &str) -> ConnectError {
    ConnectError::new(Code::NotFound, format!("watcher '{id}' not found"))
}
