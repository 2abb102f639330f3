//! Unpacking one layer tarball (plain, gzip or zstd) into its own directory, converting OCI
//! whiteouts into overlayfs-native ones so the directory can be used directly as an overlay lower
//! dir: `.wh.NAME` becomes a 0/0 character device `NAME` and `.wh..wh..opq` becomes the
//! `trusted.overlay.opaque=y` xattr on its directory.
//!
//! Safety rules (a layer is untrusted input and we unpack it as root):
//! - entry and hardlink paths are normalised; `..` components are rejected, a leading `/` is
//!   stripped (tar paths are relative to the archive root);
//! - nothing is ever written through a symlink: every parent of an entry must be a real directory
//!   inside the layer, and the entry itself replaces whatever non-directory was there;
//! - device nodes are rejected (except the 0/0 character device some tools emit as a whiteout);
//! - only `security.capability` and `user.*` xattrs are applied, never `trusted.*` (which would let
//!   a layer forge overlay metadata such as redirects).
//!
//! Absolute symlinks themselves are fine (Debian ships many, e.g. `/etc/localtime`): they are only
//! ever resolved inside a sandbox's root, never by this code.

use crate::digest::{Digest, HashingReader};
use crate::error::{ImageError, ImageResult, IoContext};
use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Prefix of OCI whiteout files.
const WH_PREFIX: &str = ".wh.";
/// Name of the OCI opaque-directory marker.
const WH_OPAQUE: &str = ".wh..wh..opq";

/// What an unpack produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// Digest of the uncompressed tar stream (the layer's diff-id).
    pub diff_id: Digest,
    /// Size of the uncompressed tar stream.
    pub tar_bytes: u64,
    /// Entries written.
    pub entries: u64,
}

/// Wraps `reader` in the decompressor its magic bytes call for.
pub(crate) fn decompress<'a, R: Read + 'a>(
    reader: R,
    layer: &str,
) -> ImageResult<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(256 * 1024, reader);
    let head = br
        .fill_buf()
        .map_err(|e| ImageError::Invalid(format!("layer {layer}: read: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(br)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = ruzstd::decoding::StreamingDecoder::new(br)
            .map_err(|e| ImageError::Invalid(format!("layer {layer}: zstd: {e}")))?;
        Ok(Box::new(d))
    } else {
        Ok(Box::new(br))
    }
}

/// Unpacks the layer read from `reader` into the existing, empty directory `dst`. `layer` names the
/// layer in errors.
pub fn unpack_layer<R: Read>(reader: R, dst: &Path, layer: &str) -> ImageResult<Unpacked> {
    let hashing = HashingReader::new(decompress(reader, layer)?);
    let mut archive = tar::Archive::new(hashing);
    let mut u = Unpacker {
        root: dst.to_path_buf(),
        layer: layer.to_string(),
        entries: 0,
    };
    let entries = archive
        .entries()
        .map_err(|e| ImageError::Invalid(format!("layer {layer}: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ImageError::Invalid(format!("layer {layer}: {e}")))?;
        u.entry(&mut entry)?;
    }
    let (diff_id, tar_bytes) = archive
        .into_inner()
        .finish()
        .map_err(|e| ImageError::Invalid(format!("layer {layer}: {e}")))?;
    Ok(Unpacked {
        diff_id,
        tar_bytes,
        entries: u.entries,
    })
}

struct Unpacker {
    root: PathBuf,
    layer: String,
    entries: u64,
}

/// Normalises a tar path to its normal components; `None` for the archive root itself.
fn components(raw: &[u8]) -> Result<Vec<&OsStr>, String> {
    let p = Path::new(OsStr::from_bytes(raw));
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => return Err("path contains '..'".into()),
            Component::Prefix(_) => return Err("unsupported path prefix".into()),
        }
    }
    Ok(out)
}

impl Unpacker {
    fn reject(&self, entry: &Path, why: impl std::fmt::Display) -> ImageError {
        ImageError::Rejected {
            layer: self.layer.clone(),
            reason: format!("{}: {why}", entry.display()),
        }
    }

    /// Makes sure every parent of `rel` is a real directory inside the layer (creating missing
    /// ones), so no write can be redirected by a symlink.
    fn parents(&self, rel: &[&OsStr], shown: &Path, create: bool) -> ImageResult<PathBuf> {
        let mut dir = self.root.clone();
        for c in rel {
            dir.push(c);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(self.reject(shown, "a parent directory is a symlink"))
                }
                Ok(_) => {
                    // A file (or whiteout) in the way: the entry's own tar order replaces it.
                    if !create {
                        return Err(self.reject(shown, "a parent is not a directory"));
                    }
                    fs::remove_file(&dir).at("remove", &dir)?;
                    mkdir(&dir)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => mkdir(&dir)?,
                Err(e) => return Err(ImageError::io("stat", &dir, e)),
            }
        }
        Ok(dir)
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> ImageResult<()> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName
        ) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let shown = PathBuf::from(OsStr::from_bytes(&raw));
        let comps = components(&raw).map_err(|e| self.reject(&shown, e))?;
        self.entries += 1;
        let Some((name, parent)) = comps.split_last() else {
            // The archive root ("./"): only its metadata matters.
            if kind.is_dir() {
                self.metadata(entry, &self.root.clone(), false)?;
            }
            return Ok(());
        };
        let name_s = name.to_string_lossy();
        if name_s == WH_OPAQUE {
            let dir = self.parents(parent, &shown, true)?;
            return set_xattr(&dir, "trusted.overlay.opaque", b"y");
        }
        if let Some(hidden) = name_s.strip_prefix(WH_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.contains('/') {
                return Err(self.reject(&shown, "malformed whiteout"));
            }
            let dir = self.parents(parent, &shown, true)?;
            let target = dir.join(hidden);
            clear(&target)?;
            return whiteout(&target);
        }
        let dir = self.parents(parent, &shown, true)?;
        let path = dir.join(name);
        match kind {
            tar::EntryType::Directory => {
                match fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        clear(&path)?;
                        mkdir(&path)?;
                    }
                    Err(_) => mkdir(&path)?,
                }
                self.metadata(entry, &path, false)
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                clear(&path)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .at("create", &path)?;
                std::io::copy(entry, &mut f).map_err(|e| {
                    ImageError::Invalid(format!("layer {}: {}: {e}", self.layer, shown.display()))
                })?;
                drop(f);
                self.metadata(entry, &path, false)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.reject(&shown, "symlink without target"))?
                    .into_owned();
                clear(&path)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .at("symlink", &path)?;
                self.metadata(entry, &path, true)
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.reject(&shown, "hardlink without target"))?
                    .into_owned();
                let tcomps = components(&target).map_err(|e| self.reject(&shown, e))?;
                let Some((tname, tparent)) = tcomps.split_last() else {
                    return Err(self.reject(&shown, "hardlink to the archive root"));
                };
                let src = self.parents(tparent, &shown, false)?.join(tname);
                match fs::symlink_metadata(&src) {
                    Ok(m) if !m.is_dir() => {}
                    Ok(_) => return Err(self.reject(&shown, "hardlink to a directory")),
                    Err(_) => return Err(self.reject(&shown, "hardlink target is missing")),
                }
                if src == path {
                    return Ok(());
                }
                clear(&path)?;
                fs::hard_link(&src, &path).at("link", &path)
            }
            tar::EntryType::Fifo => {
                clear(&path)?;
                nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
                    .map_err(|e| ImageError::io("mkfifo", &path, e.into()))?;
                self.metadata(entry, &path, false)
            }
            tar::EntryType::Char
                if entry.header().device_major().ok().flatten() == Some(0)
                    && entry.header().device_minor().ok().flatten() == Some(0) =>
            {
                clear(&path)?;
                whiteout(&path)
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                Err(self.reject(&shown, "device nodes are not allowed"))
            }
            other => Err(self.reject(&shown, format!("unsupported entry type {other:?}"))),
        }
    }

    /// Owner, mode, mtime and the allowed xattrs. chown before chmod: chown clears set-id bits.
    fn metadata<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
        is_link: bool,
    ) -> ImageResult<()> {
        let h = entry.header();
        let uid = h
            .uid()
            .ok()
            .and_then(|u| u32::try_from(u).ok())
            .unwrap_or(0);
        let gid = h
            .gid()
            .ok()
            .and_then(|g| u32::try_from(g).ok())
            .unwrap_or(0);
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = h.mtime().unwrap_or(0);
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).at("chown", path)?;
        if !is_link {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).at("chmod", path)?;
        }
        let ts = nix::sys::time::TimeSpec::new(i64::try_from(mtime).unwrap_or(0), 0);
        // Best effort: a wrong mtime only costs a rebuild of caches such as .pyc files.
        let _ = nix::sys::stat::utimensat(
            None,
            path,
            &ts,
            &ts,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        );
        if let Ok(Some(exts)) = entry.pax_extensions() {
            let mut attrs = Vec::new();
            for ext in exts.flatten() {
                if let Ok(key) = ext.key() {
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                        if name == "security.capability" || name.starts_with("user.") {
                            attrs.push((name.to_string(), ext.value_bytes().to_vec()));
                        }
                    }
                }
            }
            for (name, value) in attrs {
                if !is_link {
                    set_xattr(path, &name, &value)?;
                }
            }
        }
        Ok(())
    }
}

fn mkdir(p: &Path) -> ImageResult<()> {
    fs::create_dir(p).at("mkdir", p)?;
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).at("chmod", p)
}

/// Removes whatever is at `p` (a later entry replaces an earlier one), never following symlinks.
pub(crate) fn clear(p: &Path) -> ImageResult<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).at("remove", p),
        Ok(_) => fs::remove_file(p).at("remove", p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ImageError::io("stat", p, e)),
    }
}

/// An overlayfs whiteout: a 0/0 character device.
pub(crate) fn whiteout(p: &Path) -> ImageResult<()> {
    nix::sys::stat::mknod(
        p,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        nix::sys::stat::makedev(0, 0),
    )
    .map_err(|e| ImageError::io("mknod whiteout", p, e.into()))
}

/// `lsetxattr`, never following a symlink.
pub(crate) fn set_xattr(p: &Path, name: &str, value: &[u8]) -> ImageResult<()> {
    let cp = CString::new(p.as_os_str().as_bytes())
        .map_err(|_| ImageError::Invalid(format!("NUL in path {}", p.display())))?;
    let cn = CString::new(name).map_err(|_| ImageError::Invalid(format!("bad xattr {name:?}")))?;
    // SAFETY: both pointers are valid NUL-terminated strings and value/len describe a live slice.
    let r = unsafe {
        libc::lsetxattr(
            cp.as_ptr(),
            cn.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r != 0 {
        return Err(ImageError::io(
            "setxattr",
            p,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "cove-unpack-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        fs::create_dir_all(&p).unwrap();
        p
    }

    fn header(path: &str, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        // set_path refuses `..`, which is exactly what the tests need to write.
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        h
    }

    type Entry<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);

    fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, link, data) in entries {
            let mut h = header(path, *kind, data.len() as u64);
            if !link.is_empty() {
                h.set_link_name(link).unwrap();
                h.set_cksum();
            }
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_become_overlay_native() {
        let dst = tmpdir("wh");
        let t = tar_of(&[
            ("etc/", tar::EntryType::Directory, "", b""),
            ("etc/.wh.gone", tar::EntryType::Regular, "", b""),
            ("opt/.wh..wh..opq", tar::EntryType::Regular, "", b""),
            ("etc/hello", tar::EntryType::Regular, "", b"hi"),
            ("etc/link", tar::EntryType::Symlink, "/usr/share/x", b""),
            ("etc/hard", tar::EntryType::Link, "etc/hello", b""),
        ]);
        let u = unpack_layer(&t[..], &dst, "test").unwrap();
        assert_eq!(u.diff_id, Digest::of(&t));
        let m = fs::symlink_metadata(dst.join("etc/gone")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(
            &m.file_type()
        ));
        assert_eq!(fs::read(dst.join("etc/hard")).unwrap(), b"hi");
        assert_eq!(
            fs::read_link(dst.join("etc/link")).unwrap(),
            PathBuf::from("/usr/share/x")
        );
        let _ = fs::remove_dir_all(&dst);
    }

    #[test]
    fn malicious_layers_are_rejected() {
        let cases: Vec<Vec<Entry<'_>>> = vec![
            vec![("../escape", tar::EntryType::Regular, "", b"x")],
            vec![("a/../../escape", tar::EntryType::Regular, "", b"x")],
            vec![
                ("evil", tar::EntryType::Symlink, "/", b""),
                ("evil/tmp/pwned", tar::EntryType::Regular, "", b"x"),
            ],
            vec![
                ("rel", tar::EntryType::Symlink, "../../../../", b""),
                ("rel/pwned", tar::EntryType::Regular, "", b"x"),
            ],
            vec![("hard", tar::EntryType::Link, "../../etc/passwd", b"")],
            vec![("dev/sda", tar::EntryType::Block, "", b"")],
            vec![("dev/mem", tar::EntryType::Char, "", b"")],
        ];
        for (i, c) in cases.iter().enumerate() {
            let dst = tmpdir("evil");
            let mut t = tar_of(c);
            if c[0].1 == tar::EntryType::Char {
                // makedev(1, 1): a real device, not a whiteout.
                let mut h = header(c[0].0, tar::EntryType::Char, 0);
                h.set_device_major(1).unwrap();
                h.set_device_minor(1).unwrap();
                h.set_cksum();
                let mut b = tar::Builder::new(Vec::new());
                b.append(&h, &b""[..]).unwrap();
                t = b.into_inner().unwrap();
            }
            let err = unpack_layer(&t[..], &dst, "evil").unwrap_err();
            assert!(
                matches!(err, ImageError::Rejected { .. }),
                "case {i}: {err}"
            );
            let _ = fs::remove_dir_all(&dst);
        }
    }
}
