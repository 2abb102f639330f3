//! Build logs: one append-only file per template (`<templates>/<id>/build.log`), written by the
//! build task and read, optionally following, by any number of readers.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Appends to a build log. Writes are small and go straight to the file so a follower sees each
/// line as soon as it is produced.
#[derive(Clone)]
pub(crate) struct BuildLog {
    file: Arc<Mutex<Option<std::fs::File>>>,
}

impl BuildLog {
    /// Truncates and opens `path` (a rebuild starts a fresh log).
    pub(crate) fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let f = std::fs::File::create(path)?;
        Ok(Self {
            file: Arc::new(Mutex::new(Some(f))),
        })
    }

    /// Appends raw bytes.
    pub(crate) fn bytes(&self, b: &[u8]) {
        if let Ok(mut g) = self.file.lock() {
            if let Some(f) = g.as_mut() {
                // A full disk must not fail the build twice; the build's own error says more.
                let _ = f.write_all(b);
            }
        }
    }

    /// Appends one line.
    pub(crate) fn line(&self, s: impl AsRef<str>) {
        let mut v = s.as_ref().as_bytes().to_vec();
        v.push(b'\n');
        self.bytes(&v);
    }
}

/// Streams `path` from the start; with `follow`, keeps polling for new bytes until `id` is no
/// longer in `building` and everything written has been sent.
pub(crate) fn stream(
    path: PathBuf,
    follow: bool,
    id: String,
    building: Arc<Mutex<HashSet<String>>>,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    struct St {
        path: PathBuf,
        offset: u64,
        follow: bool,
        id: String,
        building: Arc<Mutex<HashSet<String>>>,
        done: bool,
    }
    let st = St {
        path,
        offset: 0,
        follow,
        id,
        building,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            // Check before reading so bytes written just before the build ended are not lost.
            let running = st.follow
                && st
                    .building
                    .lock()
                    .map(|b| b.contains(&st.id))
                    .unwrap_or(false);
            match read_from(&st.path, st.offset).await {
                Ok(b) if !b.is_empty() => {
                    st.offset += b.len() as u64;
                    return Some((Ok(Bytes::from(b)), st));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
            }
            if !running {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }))
}

async fn read_from(path: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut f = tokio::fs::File::open(path).await?;
    f.seek(std::io::SeekFrom::Start(offset)).await?;
    let mut buf = Vec::new();
    (&mut f).take(1 << 20).read_to_end(&mut buf).await?;
    Ok(buf)
}
