//! Turning the writable (upper) dir of a finished build-step sandbox into a layer. The upper dir
//! already uses overlayfs-native whiteouts (0/0 char devices, `trusted.overlay.opaque`), so it is
//! copied with full fidelity: owners, modes, mtimes, hardlinks, `security.capability` and the
//! opaque marker. Files the runtime writes into every sandbox (hostname, hosts, resolv.conf, the
//! `/.cove` mount points) are left out, as Docker leaves them out of commits.

use crate::error::{ImageError, ImageResult, IoContext};
use crate::unpack::{set_xattr, whiteout};
use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// Top-level paths never captured.
const EXCLUDED: &[&str] = &[".cove", "etc/hostname", "etc/hosts", "etc/resolv.conf"];

/// Copies `upper` into the existing empty dir `dst`; returns the number of entries copied.
pub fn capture_upper(upper: &Path, dst: &Path) -> ImageResult<u64> {
    let mut c = Copier {
        links: HashMap::new(),
        count: 0,
    };
    c.dir(upper, dst, "")?;
    Ok(c.count)
}

struct Copier {
    links: HashMap<(u64, u64), std::path::PathBuf>,
    count: u64,
}

impl Copier {
    fn dir(&mut self, src: &Path, dst: &Path, rel: &str) -> ImageResult<()> {
        for xa in ["trusted.overlay.redirect", "trusted.overlay.metacopy"] {
            if get_xattr(src, xa)?.is_some() {
                return Err(ImageError::Invalid(format!(
                    "build step left overlay metadata {xa} on /{rel}, which cannot be layered"
                )));
            }
        }
        if get_xattr(src, "trusted.overlay.opaque")?.as_deref() == Some(b"y") {
            set_xattr(dst, "trusted.overlay.opaque", b"y")?;
        }
        let mut entries: Vec<_> = fs::read_dir(src)
            .at("readdir", src)?
            .collect::<Result<_, _>>()
            .map_err(|e| ImageError::io("readdir", src, e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let child_rel = if rel.is_empty() {
                name.to_string_lossy().into_owned()
            } else {
                format!("{rel}/{}", name.to_string_lossy())
            };
            if EXCLUDED.contains(&child_rel.as_str()) {
                continue;
            }
            let s = src.join(&name);
            let d = dst.join(&name);
            let m = fs::symlink_metadata(&s).at("stat", &s)?;
            let ft = m.file_type();
            self.count += 1;
            if ft.is_dir() {
                fs::create_dir(&d).at("mkdir", &d)?;
                self.dir(&s, &d, &child_rel)?;
            } else if ft.is_symlink() {
                let t = fs::read_link(&s).at("readlink", &s)?;
                std::os::unix::fs::symlink(&t, &d).at("symlink", &d)?;
            } else if ft.is_char_device() && m.rdev() == 0 {
                whiteout(&d)?;
                continue;
            } else if ft.is_file() {
                let key = (m.dev(), m.ino());
                if m.nlink() > 1 {
                    if let Some(first) = self.links.get(&key) {
                        fs::hard_link(first, &d).at("link", &d)?;
                        continue;
                    }
                    self.links.insert(key, d.clone());
                }
                fs::copy(&s, &d).at("copy", &d)?;
            } else if ft.is_fifo() {
                nix::unistd::mkfifo(&d, nix::sys::stat::Mode::from_bits_truncate(0o600))
                    .map_err(|e| ImageError::io("mkfifo", &d, e.into()))?;
            } else {
                // Sockets and device nodes are runtime artefacts, not content.
                continue;
            }
            std::os::unix::fs::lchown(&d, Some(m.uid()), Some(m.gid())).at("chown", &d)?;
            if !ft.is_symlink() {
                fs::set_permissions(&d, fs::Permissions::from_mode(m.mode() & 0o7777))
                    .at("chmod", &d)?;
                if let Some(cap) = get_xattr(&s, "security.capability")? {
                    set_xattr(&d, "security.capability", &cap)?;
                }
            }
            let at = nix::sys::time::TimeSpec::new(m.atime(), m.atime_nsec());
            let mt = nix::sys::time::TimeSpec::new(m.mtime(), m.mtime_nsec());
            // Best effort, as in unpack.
            let _ = nix::sys::stat::utimensat(
                None,
                &d,
                &at,
                &mt,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            );
        }
        // The directory's own metadata, after its children so their creation does not bump it.
        let m = fs::symlink_metadata(src).at("stat", src)?;
        std::os::unix::fs::lchown(dst, Some(m.uid()), Some(m.gid())).at("chown", dst)?;
        fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777)).at("chmod", dst)?;
        Ok(())
    }
}

/// `lgetxattr`; `None` when the attribute is absent or unsupported.
fn get_xattr(p: &Path, name: &str) -> ImageResult<Option<Vec<u8>>> {
    let cp = CString::new(p.as_os_str().as_bytes())
        .map_err(|_| ImageError::Invalid(format!("NUL in path {}", p.display())))?;
    let cn = CString::new(name).map_err(|_| ImageError::Invalid(format!("bad xattr {name:?}")))?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: valid NUL-terminated strings; buf/len describe a live, writable buffer.
        let n = unsafe {
            libc::lgetxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < 65536 => buf.resize(buf.len() * 4, 0),
            _ => return Err(ImageError::io("getxattr", p, err)),
        }
    }
}
