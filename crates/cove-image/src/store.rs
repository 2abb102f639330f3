//! The content store under `<data>/images/`:
//!
//! ```text
//! blobs/sha256/<hex>   compressed blobs kept after a registry pull (configs, manifests, layers)
//! layers/<id>/         unpacked layers, usable directly as overlay lower dirs
//! tmp/                 work dirs of unpacks and builds in progress (emptied at open)
//! ```
//!
//! A layer's id is 64 hex chars: the diff-id of an image layer, or the cache key of a build step or
//! bootstrap (see `recipe::step_key`), so "is this step cached" is "does `layers/<key>` exist".
//! Layers appear atomically by renaming a finished tmp dir; concurrent producers of the same layer
//! both succeed and one copy is discarded.

use crate::digest::{verify, Digest, HashingReader};
use crate::error::{ImageError, ImageResult, IoContext};
use crate::unpack::{unpack_layer, Unpacked};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Handle on the content store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens (creating) the store at `root` and clears leftovers of interrupted work.
    pub fn open(root: &Path) -> ImageResult<Self> {
        for d in ["blobs/sha256", "layers", "tmp"] {
            let p = root.join(d);
            fs::create_dir_all(&p).at("mkdir", &p)?;
        }
        let tmp = root.join("tmp");
        if let Ok(rd) = fs::read_dir(&tmp) {
            for e in rd.flatten() {
                let _ = crate::unpack::clear(&e.path());
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Directory of layer `id` (which may not exist).
    pub fn layer_dir(&self, id: &str) -> PathBuf {
        self.root.join("layers").join(id)
    }

    /// Whether layer `id` is unpacked.
    pub fn has_layer(&self, id: &str) -> bool {
        is_layer_id(id) && self.layer_dir(id).is_dir()
    }

    /// Path of a stored blob.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    /// A fresh, empty directory (mode 0755, as a layer root must be) under `tmp/`.
    pub fn tmp_dir(&self, what: &str) -> ImageResult<PathBuf> {
        let p = self.root.join("tmp").join(format!(
            "{what}-{}-{}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = crate::unpack::clear(&p);
        fs::create_dir(&p).at("mkdir", &p)?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).at("chmod", &p)?;
        Ok(p)
    }

    /// A fresh file path under `tmp/`.
    pub fn tmp_file(&self, what: &str) -> PathBuf {
        self.root.join("tmp").join(format!(
            "{what}-{}-{}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Moves the finished directory `tmp` to `layers/<id>`; if another producer won, `tmp` is
    /// dropped (the content is identical by construction).
    pub fn commit_layer(&self, tmp: &Path, id: &str) -> ImageResult<PathBuf> {
        if !is_layer_id(id) {
            return Err(ImageError::Invalid(format!("bad layer id {id:?}")));
        }
        let dst = self.layer_dir(id);
        match fs::rename(tmp, &dst) {
            Ok(()) => Ok(dst),
            Err(_) if dst.is_dir() => {
                crate::unpack::clear(tmp)?;
                Ok(dst)
            }
            Err(e) => {
                let _ = crate::unpack::clear(tmp);
                Err(ImageError::io("rename", &dst, e))
            }
        }
    }

    /// Moves a verified blob file into `blobs/`.
    pub fn commit_blob(&self, tmp: &Path, d: &Digest) -> ImageResult<PathBuf> {
        let dst = self.blob_path(d);
        fs::rename(tmp, &dst).at("rename", &dst)?;
        Ok(dst)
    }

    /// Unpacks a layer blob read from `reader`, checking the compressed bytes against `blob` (when
    /// known) and the tar stream against `diff_id`, and stores it as `layers/<diff_id hex>`.
    /// Nothing is stored when a check fails.
    pub fn unpack<R: Read>(
        &self,
        reader: R,
        blob: Option<&Digest>,
        diff_id: &Digest,
    ) -> ImageResult<(String, Unpacked)> {
        let id = diff_id.hex().to_string();
        let tmp = self.tmp_dir("unpack")?;
        let res = (|| {
            let mut hashing = HashingReader::new(reader);
            let label = blob.unwrap_or(diff_id).to_string();
            let unpacked = unpack_layer(&mut hashing, &tmp, &label)?;
            let (raw, _) = hashing
                .finish()
                .map_err(|e| ImageError::Invalid(format!("layer {label}: {e}")))?;
            if let Some(b) = blob {
                verify(&format!("layer blob {b}"), b, &raw)?;
            }
            verify(
                &format!("layer {label} (uncompressed)"),
                diff_id,
                &unpacked.diff_id,
            )?;
            Ok(unpacked)
        })();
        match res {
            Ok(u) => {
                self.commit_layer(&tmp, &id)?;
                Ok((id, u))
            }
            Err(e) => {
                let _ = crate::unpack::clear(&tmp);
                Err(e)
            }
        }
    }
}

/// Layer ids are 64 lowercase hex chars, so they are safe path components and short enough to keep
/// the overlay mount options (one page) able to list a few dozen layers.
pub fn is_layer_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The file `rel` as the overlay of `layers` (topmost first) would show it, approximately: the
/// first layer holding it wins and a whiteout hides it. Used to read `/etc/passwd` of a template.
pub fn find_in_layers(layers: &[PathBuf], rel: &str) -> Option<PathBuf> {
    for l in layers {
        let p = l.join(rel);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_file() => return Some(p),
            Ok(m) if std::os::unix::fs::FileTypeExt::is_char_device(&m.file_type()) => return None,
            _ => {}
        }
    }
    None
}
