//! Where the CLI finds its server: flag > environment (both via clap) > `~/.config/cove/config.toml`
//! > built-in default.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Server URL when nothing else says otherwise; matches `cove serve`'s default listen address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8089";

/// Contents of the config file; unknown keys are ignored so the file can grow.
#[derive(Debug, Default, Deserialize)]
pub struct FileConfig {
    /// Server base URL.
    pub url: Option<String>,
    /// API key.
    pub api_key: Option<String>,
}

/// The effective connection settings.
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Server base URL.
    pub url: String,
    /// API key, if any.
    pub api_key: Option<String>,
}

/// `$XDG_CONFIG_HOME/cove/config.toml`, else `$HOME/.config/cove/config.toml`.
pub fn config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("cove").join("config.toml"))
}

/// Reads the config file; a missing file is simply no config, but a malformed one is an error
/// rather than being silently ignored (it would otherwise point the CLI at the wrong server).
pub fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Combines the flag/env values (already merged by clap) with the file and the default.
pub fn resolve(url: Option<String>, api_key: Option<String>, file: FileConfig) -> Resolved {
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    Resolved {
        url: non_empty(url)
            .or_else(|| non_empty(file.url))
            .unwrap_or_else(|| DEFAULT_URL.to_string()),
        api_key: non_empty(api_key).or_else(|| non_empty(file.api_key)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file(url: Option<&str>, key: Option<&str>) -> FileConfig {
        FileConfig {
            url: url.map(String::from),
            api_key: key.map(String::from),
        }
    }

    #[test]
    fn precedence() {
        let r = resolve(
            Some("http://flag".into()),
            None,
            file(Some("http://file"), Some("k")),
        );
        assert_eq!(r.url, "http://flag");
        assert_eq!(r.api_key.as_deref(), Some("k"));

        let r = resolve(None, Some("flag-key".into()), file(None, Some("k")));
        assert_eq!(r.url, DEFAULT_URL);
        assert_eq!(r.api_key.as_deref(), Some("flag-key"));

        let r = resolve(Some(String::new()), None, FileConfig::default());
        assert_eq!(r.url, DEFAULT_URL);
        assert_eq!(r.api_key, None);
    }

    #[test]
    fn parses_file_and_tolerates_missing() {
        let dir = std::env::temp_dir().join(format!("cove-cli-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("config.toml");
        std::fs::write(&p, "url = \"http://x:1\"\napi_key = \"s\"\nother = 3\n").unwrap();
        let f = load_file(&p).unwrap();
        assert_eq!(f.url.as_deref(), Some("http://x:1"));
        assert_eq!(f.api_key.as_deref(), Some("s"));
        std::fs::write(&p, "url = [").unwrap();
        assert!(load_file(&p).is_err());
        let missing = load_file(&dir.join("nope.toml")).unwrap();
        assert!(missing.url.is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
