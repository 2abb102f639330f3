//! The built-in "base" template: a tiny private root (its own `/etc`, home dirs and mount points)
//! composed from the host in milliseconds, with the host's `/usr` bind-mounted read-only on top.
//! Nothing else of the host is visible, yet bash, python3 and everything installed under `/usr`
//! work, for root and for the default user.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::error::{Context, RuntimeError, RuntimeResult};
use crate::fsutil::{copy_tree, mkdir_mode, remove_tree, write_file_mode};
use crate::RootfsSpec;

/// Top-level host dirs that merged-/usr systems turn into symlinks into /usr.
const USR_ALIASES: [&str; 6] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Entries of the host's `/etc` copied into the template when present: loader config, certificates,
/// shell startup files and name-service config that programs expect, and nothing secret
/// (`/etc/ssl/private`, `shadow`, ssh keys stay out).
const HOST_ETC: &[&str] = &[
    "alternatives",
    "bash.bashrc",
    "ca-certificates.conf",
    "debian_version",
    "environment",
    "gai.conf",
    "host.conf",
    "inputrc",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "login.defs",
    "lsb-release",
    "mime.types",
    "networks",
    "nsswitch.conf",
    "os-release",
    "profile",
    "profile.d",
    "protocols",
    "services",
    "shells",
    "skel",
    "ssl/certs",
    "ssl/openssl.cnf",
    "terminfo",
    "timezone",
];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
user:x:1000:1000:user:/home/user:/bin/bash\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\ntty:x:5:\nusers:x:100:user\nuser:x:1000:\nnogroup:x:65534:\n";
const SHADOW: &str =
    "root:*:19000:0:99999:7:::\nuser:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n";
const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/// Creates `dir/rootfs` once (atomically) and returns the spec that turns it into a sandbox root.
/// Safe to call on every server start; an existing template is reused as is.
pub fn ensure_base_template(dir: &Path) -> RuntimeResult<RootfsSpec> {
    fs::create_dir_all(dir).ctx(|| format!("mkdir {}", dir.display()))?;
    let rootfs = dir.join("rootfs");
    if !rootfs.is_dir() {
        let tmp = dir.join(format!(
            ".rootfs.{}.{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        ));
        remove_tree(&tmp)?;
        if let Err(e) = compose(&tmp) {
            let _ = remove_tree(&tmp);
            return Err(e);
        }
        match fs::rename(&tmp, &rootfs) {
            Ok(()) => {}
            // Someone else finished first; theirs is equivalent.
            Err(e)
                if rootfs.is_dir()
                    && matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) =>
            {
                remove_tree(&tmp)?;
            }
            Err(e) => {
                let _ = remove_tree(&tmp);
                return Err(RuntimeError::io(
                    format!("rename template to {}", rootfs.display()),
                    e,
                ));
            }
        }
    }
    let mut ro_binds = vec![(PathBuf::from("/usr"), PathBuf::from("/usr"))];
    for name in USR_ALIASES {
        let host = Path::new("/").join(name);
        if fs::symlink_metadata(&host).is_ok_and(|m| m.is_dir()) {
            ro_binds.push((host.clone(), host));
        }
    }
    Ok(RootfsSpec {
        lower_dirs: vec![rootfs],
        ro_binds,
    })
}

fn compose(root: &Path) -> RuntimeResult<()> {
    mkdir_mode(root, 0o755)?;
    for (d, mode) in [
        ("etc", 0o755),
        ("home", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("run", 0o755),
        ("var", 0o755),
        ("var/tmp", 0o1777),
        ("var/cache", 0o755),
        ("var/lib", 0o755),
        ("var/log", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("usr", 0o755),
        ("opt", 0o755),
        ("mnt", 0o755),
        (".cove", 0o755),
        (".cove/bin", 0o755),
        (".cove/run", 0o700),
    ] {
        mkdir_mode(&root.join(d), mode)?;
    }

    // Mirror the host's layout of the /usr aliases: symlinks on merged-/usr hosts, otherwise
    // empty mount points for the read-only binds that ensure_base_template returns.
    for name in USR_ALIASES {
        let host = Path::new("/").join(name);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&host).ctx(|| format!("readlink {}", host.display()))?;
                symlink(&target, root.join(name))
                    .ctx(|| format!("symlink {}", root.join(name).display()))?;
            }
            Ok(m) if m.is_dir() => mkdir_mode(&root.join(name), 0o755)?,
            _ => {}
        }
    }

    let etc = root.join("etc");
    write_file_mode(&etc.join("passwd"), PASSWD.as_bytes(), 0o644)?;
    write_file_mode(&etc.join("group"), GROUP.as_bytes(), 0o644)?;
    write_file_mode(&etc.join("shadow"), SHADOW.as_bytes(), 0o600)?;
    write_file_mode(&etc.join("hosts"), HOSTS.as_bytes(), 0o644)?;
    write_file_mode(&etc.join("hostname"), b"sandbox\n", 0o644)?;
    symlink("../proc/self/mounts", etc.join("mtab")).ctx(|| "symlink etc/mtab".into())?;
    // The host's resolv.conf is often a symlink into /run, which the sandbox cannot see: copy
    // the content.
    match fs::read("/etc/resolv.conf") {
        Ok(b) => write_file_mode(&etc.join("resolv.conf"), &b, 0o644)?,
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(RuntimeError::io("read /etc/resolv.conf", e)),
    }
    mkdir_mode(&etc.join("ssl"), 0o755)?;
    for name in HOST_ETC {
        copy_if_exists(&Path::new("/etc").join(name), &etc.join(name))?;
    }
    for entry in fs::read_dir("/etc").ctx(|| "readdir /etc".into())? {
        let entry = entry.ctx(|| "readdir /etc".into())?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("python3") {
            copy_if_exists(&entry.path(), &etc.join(&name))?;
        }
    }

    let home = root.join("home/user");
    mkdir_mode(&home, 0o755)?;
    if Path::new("/etc/skel").is_dir() {
        for entry in fs::read_dir("/etc/skel").ctx(|| "readdir /etc/skel".into())? {
            let entry = entry.ctx(|| "readdir /etc/skel".into())?;
            copy_tree(&entry.path(), &home.join(entry.file_name()))?;
        }
    }
    chown_tree(&home, 1000, 1000)
}

fn copy_if_exists(src: &Path, dst: &Path) -> RuntimeResult<()> {
    match fs::symlink_metadata(src) {
        Ok(_) => copy_tree(src, dst),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io(format!("stat {}", src.display()), e)),
    }
}

fn chown_tree(p: &Path, uid: u32, gid: u32) -> RuntimeResult<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).ctx(|| format!("chown {}", p.display()))?;
    let meta = fs::symlink_metadata(p).ctx(|| format!("stat {}", p.display()))?;
    if meta.is_dir() {
        for entry in fs::read_dir(p).ctx(|| format!("readdir {}", p.display()))? {
            let entry = entry.ctx(|| format!("readdir {}", p.display()))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}
