//! Building `EntryInfo` from the filesystem: Go `FileMode.String()` permissions, owner names from
//! the sandbox's own passwd/group files, RFC 3339 times and `user.e2b.*` xattr metadata.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use cove_proto::filesystem::{EntryInfo, FileType};

use crate::paths;
use crate::users::{Names, User};

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;
const S_IFBLK: u32 = 0o060000;
const S_IFCHR: u32 = 0o020000;
const S_IFIFO: u32 = 0o010000;
const S_IFSOCK: u32 = 0o140000;

/// Prefix under which file metadata from `X-Metadata-*` headers is stored.
pub const XATTR_PREFIX: &str = "user.e2b.";

/// Go's `FileMode.String()` for a unix `st_mode` (type letters in Go's order, then rwx bits).
pub fn go_mode_string(mode: u32) -> String {
    let fmt = mode & S_IFMT;
    let mut s = String::new();
    if fmt == S_IFDIR {
        s.push('d');
    }
    if fmt == S_IFLNK {
        s.push('L');
    }
    if fmt == S_IFBLK || fmt == S_IFCHR {
        s.push('D');
    }
    if fmt == S_IFIFO {
        s.push('p');
    }
    if fmt == S_IFSOCK {
        s.push('S');
    }
    if mode & 0o4000 != 0 {
        s.push('u');
    }
    if mode & 0o2000 != 0 {
        s.push('g');
    }
    if fmt == S_IFCHR {
        s.push('c');
    }
    if mode & 0o1000 != 0 {
        s.push('t');
    }
    if s.is_empty() {
        s.push('-');
    }
    const RWX: &[u8; 9] = b"rwxrwxrwx";
    for (i, c) in RWX.iter().enumerate() {
        s.push(if mode & (1 << (8 - i)) != 0 {
            char::from(*c)
        } else {
            '-'
        });
    }
    s
}

pub fn rfc3339(secs: i64, nanos: i64) -> Option<String> {
    let t = DateTime::<Utc>::from_timestamp(secs, u32::try_from(nanos).unwrap_or(0))?;
    Some(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

/// Reads `user.e2b.*` xattrs (without following symlinks). Missing support means no metadata.
pub fn read_metadata(path: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(c) = cpath(path) else { return out };
    let mut names = vec![0u8; 4096];
    // SAFETY: the buffer pointer and length describe a live allocation; c is NUL-terminated.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return out;
    }
    names.truncate(usize::try_from(n).unwrap_or(0));
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Some(key) = name.strip_prefix(XATTR_PREFIX.as_bytes()) else {
            continue;
        };
        let Ok(cname) = CString::new(name) else {
            continue;
        };
        let mut value = vec![0u8; 4096];
        // SAFETY: as above.
        let len = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                cname.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if len >= 0 {
            value.truncate(usize::try_from(len).unwrap_or(0));
            out.insert(
                String::from_utf8_lossy(key).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            );
        }
    }
    out
}

/// Replaces the file's `user.e2b.*` xattrs. Filesystems without user xattrs make this fail, which
/// callers treat as non-fatal.
pub fn write_metadata(path: &Path, meta: &BTreeMap<String, String>) -> io::Result<()> {
    let c = cpath(path)?;
    for key in read_metadata(path).keys() {
        if let Ok(name) = CString::new(format!("{XATTR_PREFIX}{key}")) {
            // SAFETY: both strings are NUL-terminated and live for the call.
            unsafe { libc::lremovexattr(c.as_ptr(), name.as_ptr()) };
        }
    }
    for (k, v) in meta {
        let name = CString::new(format!("{XATTR_PREFIX}{k}"))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "metadata key has NUL"))?;
        // SAFETY: pointers and lengths describe live buffers.
        let rc =
            unsafe { libc::lsetxattr(c.as_ptr(), name.as_ptr(), v.as_ptr().cast(), v.len(), 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Describes `path` without following a final symlink.
pub fn entry_info(path: &Path, names: &Names) -> io::Result<EntryInfo> {
    let md = std::fs::symlink_metadata(path)?;
    let ft = md.file_type();
    let mode = md.mode();
    let (r#type, symlink_target) = if ft.is_symlink() {
        // Report where the link finally points (like Go's EvalSymlinks), or the raw target when it
        // dangles.
        let target = std::fs::canonicalize(path).or_else(|_| {
            std::fs::read_link(path).map(|t| {
                let parent = path.parent().unwrap_or(Path::new("/"));
                paths::normalize(&parent.join(t))
            })
        });
        (
            FileType::Symlink,
            target.ok().map(|t| t.to_string_lossy().into_owned()),
        )
    } else if ft.is_dir() {
        (FileType::Directory, None)
    } else if ft.is_file() {
        (FileType::File, None)
    } else {
        (FileType::Unspecified, None)
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".to_string());
    Ok(EntryInfo {
        name,
        r#type,
        path: path.to_string_lossy().into_owned(),
        size: i64::try_from(md.len()).unwrap_or(i64::MAX),
        mode: md.permissions().mode() & 0o777,
        permissions: go_mode_string(mode),
        owner: names.user(md.uid()),
        group: names.group(md.gid()),
        modified_time: rfc3339(md.mtime(), md.mtime_nsec()),
        symlink_target,
        metadata: read_metadata(path),
        is_symlink: ft.is_symlink(),
    })
}

/// Gives `path` to the user; refused chowns (agent not root, e.g. on a dev host) are ignored.
pub fn chown_to(path: &Path, user: &User) {
    let _ = std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid));
}

/// `mkdir -p` that chowns every directory it creates to `user`.
pub fn create_dirs_owned(path: &Path, user: &User) -> io::Result<()> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut cur = Some(path);
    while let Some(p) = cur {
        if p.exists() {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    for dir in missing.iter().rev() {
        match std::fs::create_dir(dir) {
            Ok(()) => chown_to(dir, user),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    if !path.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_file_mode_strings() {
        assert_eq!(go_mode_string(0o100644), "-rw-r--r--");
        assert_eq!(go_mode_string(0o040755), "drwxr-xr-x");
        assert_eq!(go_mode_string(0o120777), "Lrwxrwxrwx");
        assert_eq!(go_mode_string(0o041777), "dtrwxrwxrwx");
        assert_eq!(go_mode_string(0o104755), "urwxr-xr-x");
        assert_eq!(go_mode_string(0o020666), "Dcrw-rw-rw-");
        assert_eq!(go_mode_string(0o010600), "prw-------");
        assert_eq!(go_mode_string(0o140755), "Srwxr-xr-x");
        assert_eq!(go_mode_string(0o100000), "----------");
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            rfc3339(1_735_689_600, 0).as_deref(),
            Some("2025-01-01T00:00:00Z")
        );
        assert_eq!(
            rfc3339(1_735_689_600, 500_000_000).as_deref(),
            Some("2025-01-01T00:00:00.500Z")
        );
    }

    #[test]
    fn entry_of_tempdir() {
        let dir = std::env::temp_dir().join(format!("cove-agent-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let names = Names::default();
        let user = User {
            name: "x".into(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            home: "/".into(),
            groups: vec![],
        };
        assert!(create_dirs_owned(&dir.join("a/b"), &user).is_ok());
        let file = dir.join("a/f.txt");
        assert!(std::fs::write(&file, b"hello").is_ok());
        let link = dir.join("a/l");
        assert!(std::os::unix::fs::symlink(&file, &link).is_ok());
        let e = entry_info(&file, &names).ok().unwrap_or_default();
        assert_eq!(
            (e.r#type, e.size, e.name.as_str()),
            (FileType::File, 5, "f.txt")
        );
        let l = entry_info(&link, &names).ok().unwrap_or_default();
        assert!(l.is_symlink);
        assert_eq!(l.r#type, FileType::Symlink);
        assert!(l.permissions.starts_with('L'));
        let d = entry_info(&dir.join("a/b"), &names)
            .ok()
            .unwrap_or_default();
        assert_eq!(d.r#type, FileType::Directory);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
