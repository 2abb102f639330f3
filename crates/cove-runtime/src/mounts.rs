//! Mount plumbing on the host side: the overlay root filesystem, unmounting with a lazy fallback,
//! and reading `/proc/self/mountinfo`.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Context, RuntimeError, RuntimeResult};

/// One line of `/proc/self/mountinfo`, reduced to what the runtime uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    pub root: String,
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub super_options: String,
}

/// Mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some(MountInfo {
                root: unescape(pre.get(3)?),
                mount_point: PathBuf::from(unescape(pre.get(4)?)),
                fs_type: (*post.first()?).to_string(),
                super_options: post.get(2).map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

pub(crate) fn read_mountinfo() -> RuntimeResult<Vec<MountInfo>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read mountinfo".into())?;
    Ok(parse_mountinfo(&text))
}

/// Mount points at or below `dir`, deepest first so they can be unmounted in order.
pub(crate) fn mounts_under(dir: &Path) -> RuntimeResult<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = read_mountinfo()?
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    Ok(v)
}

/// Mounts an overlay of `lower` (topmost first) with `upper`/`work` at `target`.
pub(crate) fn mount_overlay(
    lower: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> RuntimeResult<()> {
    if lower.is_empty() {
        return Err(RuntimeError::Unsupported(
            "rootfs needs at least one lower dir".into(),
        ));
    }
    let mut lowers = Vec::with_capacity(lower.len());
    for l in lower {
        let s = l.to_str().unwrap_or_default();
        // ':' separates layers and ',' separates options; such paths cannot be expressed.
        if s.is_empty() || s.contains([':', ',']) {
            return Err(RuntimeError::Unsupported(format!(
                "overlay lower dir {} has an unusable name",
                l.display()
            )));
        }
        lowers.push(s);
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .ctx(|| format!("mount overlay on {} ({data})", target.display()))
}

/// Unmounts `target`; when it is busy (a straggler holds a file open) detaches it lazily so the
/// sandbox dir can still go away. Not mounted is success.
pub(crate) fn unmount(target: &Path) -> RuntimeResult<()> {
    match umount2(target, MntFlags::UMOUNT_NOFOLLOW) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => {
            tracing::warn!(target = %target.display(), "mount busy, detaching lazily");
            umount2(target, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW)
                .ctx(|| format!("lazy umount {}", target.display()))
        }
        Err(e) => Err(RuntimeError::sys(format!("umount {}", target.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let text = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    40 20 0:35 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt/with space"));
        assert_eq!(m[0].root, "/mnt1");
        assert_eq!(m[1].fs_type, "cgroup");
        assert_eq!(m[1].super_options, "rw,memory");
    }
}
