//! Resolution of client-supplied paths. The agent runs inside the sandbox's root, so any path is
//! acceptable; lexical normalisation only makes `..` and `.` behave predictably (never climbing
//! above `/`) before paths are compared, joined or reported back to clients.

use std::path::{Component, Path, PathBuf};

/// Normalises an absolute path lexically: drops `.`, applies `..` by popping, keeps `/` as the floor.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
        }
    }
    out
}

/// Expands `~` and `~/...` to `home`, makes relative paths relative to `base`, then normalises.
/// An empty path is `base` itself.
pub fn resolve(path: &str, home: &Path, base: &Path) -> PathBuf {
    let joined = if path == "~" {
        home.to_path_buf()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home.join(rest)
    } else if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        base.join(path)
    };
    // `base` itself may be relative if misconfigured; anchoring at / keeps the result absolute.
    normalize(&Path::new("/").join(joined))
}

/// Base directory for relative paths: the default workdir if configured and present, else home.
pub fn base_dir(default_workdir: Option<&Path>, home: &Path) -> PathBuf {
    match default_workdir {
        Some(dir) if dir.is_dir() => dir.to_path_buf(),
        _ => home.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(p: &str) -> String {
        resolve(p, Path::new("/home/user"), Path::new("/work"))
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn resolution() {
        assert_eq!(r("/etc/passwd"), "/etc/passwd");
        assert_eq!(r("a.txt"), "/work/a.txt");
        assert_eq!(r(""), "/work");
        assert_eq!(r("."), "/work");
        assert_eq!(r("~"), "/home/user");
        assert_eq!(r("~/x/y"), "/home/user/x/y");
        assert_eq!(r("~other"), "/work/~other");
        assert_eq!(r("../../../../etc"), "/etc");
        assert_eq!(r("/a/./b/../c/"), "/a/c");
        assert_eq!(r("/.."), "/");
        assert_eq!(r("//x//y"), "/x/y");
    }

    #[test]
    fn base_dir_falls_back_to_home() {
        let home = Path::new("/home/user");
        assert_eq!(base_dir(Some(Path::new("/nonexistent-xyz")), home), home);
        assert_eq!(base_dir(Some(Path::new("/")), home), Path::new("/"));
        assert_eq!(base_dir(None, home), home);
    }
}
