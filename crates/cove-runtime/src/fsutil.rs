//! Small filesystem helpers: copying host trees into templates and removing sandbox trees without
//! ever following a symlink or crossing into a mount.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{Context, RuntimeError, RuntimeResult};

/// Creates `path` (not its parents) with `mode`, accepting an existing directory.
pub(crate) fn mkdir_mode(path: &Path, mode: u32) -> RuntimeResult<()> {
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(RuntimeError::io(format!("mkdir {}", path.display()), e)),
    }
    // The umask trims the mode given to mkdir; sticky/world-writable dirs like /tmp need it exact.
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .ctx(|| format!("chmod {}", path.display()))
}

/// Writes a new file with exactly `mode`.
pub(crate) fn write_file_mode(path: &Path, contents: &[u8], mode: u32) -> RuntimeResult<()> {
    fs::write(path, contents).ctx(|| format!("write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .ctx(|| format!("chmod {}", path.display()))
}

/// Recursively copies `src` to `dst`: regular files, directories and symlinks (as symlinks, never
/// followed), keeping mode and ownership. Sockets, fifos and device nodes are skipped because
/// nothing under /etc needs them in a sandbox.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> RuntimeResult<()> {
    let meta = fs::symlink_metadata(src).ctx(|| format!("stat {}", src.display()))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(src).ctx(|| format!("readlink {}", src.display()))?;
        std::os::unix::fs::symlink(&target, dst).ctx(|| format!("symlink {}", dst.display()))?;
    } else if ft.is_dir() {
        mkdir_mode(dst, meta.mode() & 0o7777)?;
        for entry in fs::read_dir(src).ctx(|| format!("readdir {}", src.display()))? {
            let entry = entry.ctx(|| format!("readdir {}", src.display()))?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
        }
    } else if ft.is_file() {
        fs::copy(src, dst).ctx(|| format!("copy {} to {}", src.display(), dst.display()))?;
    } else {
        return Ok(());
    }
    // Ownership matters for files like /etc/shadow-style secrets; symlink ownership is cosmetic
    // but lchown keeps the copy faithful without following the link.
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))
        .ctx(|| format!("chown {}", dst.display()))
}

/// Removes `path` recursively. Symlinks are unlinked, never followed, and any directory on a
/// different device than `path` itself (a mount that survived cleanup) aborts the removal so a
/// forgotten bind mount of a host directory can never be emptied. A missing `path` is fine.
pub(crate) fn remove_tree(path: &Path) -> RuntimeResult<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RuntimeError::io(format!("stat {}", path.display()), e)),
    };
    if !meta.is_dir() {
        return fs::remove_file(path).ctx(|| format!("unlink {}", path.display()));
    }
    remove_dir_on_dev(path, meta.dev())
}

fn remove_dir_on_dev(dir: &Path, dev: u64) -> RuntimeResult<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RuntimeError::io(format!("readdir {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.ctx(|| format!("readdir {}", dir.display()))?;
        let p = entry.path();
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(RuntimeError::io(format!("stat {}", p.display()), e)),
        };
        if meta.is_dir() {
            if meta.dev() != dev {
                return Err(RuntimeError::io(
                    format!("refusing to remove {}: still a mount point", p.display()),
                    std::io::Error::from(ErrorKind::ResourceBusy),
                ));
            }
            remove_dir_on_dev(&p, dev)?;
        } else {
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(RuntimeError::io(format!("unlink {}", p.display()), e)),
            }
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io(format!("rmdir {}", dir.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_tree_does_not_follow_symlinks() {
        let base = std::env::temp_dir().join(format!("cove-fsutil-{}", std::process::id()));
        let victim = base.join("victim");
        let tree = base.join("tree");
        fs::create_dir_all(&victim).unwrap();
        fs::write(victim.join("keep"), b"x").unwrap();
        fs::create_dir_all(tree.join("a/b")).unwrap();
        fs::write(tree.join("a/b/f"), b"y").unwrap();
        std::os::unix::fs::symlink(&victim, tree.join("a/link")).unwrap();
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
        assert!(victim.join("keep").exists());
        remove_tree(&tree).unwrap();
        remove_tree(&base).unwrap();
    }
}
