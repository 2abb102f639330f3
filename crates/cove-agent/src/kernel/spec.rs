//! Kernelspec discovery: which Jupyter kernels this sandbox can run. Specs are `kernel.json` files
//! in the standard data directories (the user's own first, so they can override system ones);
//! Python also works with the `ipykernel` module alone, since pip-installed ipykernel often comes
//! without a registered spec.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How to interrupt a running cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptMode {
    /// SIGINT to the kernel process (Jupyter's default).
    Signal,
    /// `interrupt_request` on the control channel.
    Message,
}

#[derive(Debug, Clone)]
pub struct KernelSpec {
    pub name: String,
    pub display_name: String,
    /// Lowercased, e.g. `python`, `javascript`, `typescript`, `r`.
    pub language: String,
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub interrupt_mode: InterruptMode,
    pub resource_dir: PathBuf,
}

#[derive(Deserialize)]
struct KernelJson {
    argv: Vec<String>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    interrupt_mode: Option<String>,
}

/// The data directories searched, most specific first.
fn kernel_dirs(home: &Path) -> Vec<PathBuf> {
    vec![
        home.join(".local/share/jupyter/kernels"),
        PathBuf::from("/usr/local/share/jupyter/kernels"),
        PathBuf::from("/usr/share/jupyter/kernels"),
    ]
}

fn load(dir: &Path) -> Option<KernelSpec> {
    let name = dir.file_name()?.to_str()?.to_string();
    let raw = std::fs::read(dir.join("kernel.json")).ok()?;
    let k: KernelJson = match serde_json::from_slice(&raw) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(spec = %dir.display(), "ignoring invalid kernel.json: {e}");
            return None;
        }
    };
    if k.argv.is_empty() {
        return None;
    }
    Some(KernelSpec {
        display_name: if k.display_name.is_empty() {
            name.clone()
        } else {
            k.display_name
        },
        language: k.language.to_lowercase(),
        argv: k.argv,
        env: k.env,
        interrupt_mode: match k.interrupt_mode.as_deref() {
            Some("message") => InterruptMode::Message,
            _ => InterruptMode::Signal,
        },
        resource_dir: dir.to_path_buf(),
        name,
    })
}

/// Where pip and Debian put Python packages, for the ipykernel fallback. Looking for the module's
/// file avoids starting an interpreter, which the agent (as PID 1, reaping every child) could not
/// wait for with std's `Command::output` anyway.
fn has_ipykernel(home: &Path) -> bool {
    let mut roots: Vec<PathBuf> = vec![PathBuf::from("/usr/lib/python3/dist-packages")];
    for (base, subdirs) in [
        (
            PathBuf::from("/usr/local/lib"),
            &["dist-packages", "site-packages"][..],
        ),
        (PathBuf::from("/usr/lib"), &["site-packages"][..]),
        (home.join(".local/lib"), &["site-packages"][..]),
    ] {
        let Ok(entries) = std::fs::read_dir(&base) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("python3") {
                for sub in subdirs {
                    roots.push(e.path().join(sub));
                }
            }
        }
    }
    roots
        .iter()
        .any(|r| r.join("ipykernel_launcher.py").is_file())
}

fn python_fallback() -> KernelSpec {
    KernelSpec {
        name: "python3".into(),
        display_name: "Python 3 (ipykernel)".into(),
        language: "python".into(),
        argv: [
            "python3",
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ]
        .map(String::from)
        .to_vec(),
        env: BTreeMap::new(),
        interrupt_mode: InterruptMode::Signal,
        resource_dir: PathBuf::from("/"),
    }
}

/// Every usable kernelspec, by name (a user's spec shadows a system one of the same name).
pub fn discover(home: &Path) -> Vec<KernelSpec> {
    let mut by_name: BTreeMap<String, KernelSpec> = BTreeMap::new();
    for dir in kernel_dirs(home) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if let Some(spec) = load(&e.path()) {
                by_name.entry(spec.name.clone()).or_insert(spec);
            }
        }
    }
    if !by_name.values().any(|s| s.language == "python") && has_ipykernel(home) {
        by_name.insert("python3".into(), python_fallback());
    }
    by_name.into_values().collect()
}

/// The E2B spelling of a language: lowercased, with the SDKs' aliases resolved.
pub fn normalize_language(lang: &str) -> String {
    let l = lang.trim().to_lowercase();
    match l.as_str() {
        "js" => "javascript".into(),
        "ts" => "typescript".into(),
        "py" | "python3" => "python".into(),
        _ => l,
    }
}

/// The spec serving `language` (normalized): a spec of that language, preferring one whose name
/// is the language itself (`python3` for Python); a kernel name also works (`ir`, `deno`).
pub fn find<'a>(specs: &'a [KernelSpec], language: &str) -> Option<&'a KernelSpec> {
    let preferred =
        |s: &&&KernelSpec| s.name == language || (language == "python" && s.name == "python3");
    let same_lang: Vec<&KernelSpec> = specs.iter().filter(|s| s.language == language).collect();
    same_lang
        .iter()
        .find(preferred)
        .or_else(|| same_lang.first())
        .copied()
        .or_else(|| specs.iter().find(|s| s.name == language))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, language: &str) -> KernelSpec {
        KernelSpec {
            name: name.into(),
            display_name: name.into(),
            language: language.into(),
            argv: vec!["x".into()],
            env: BTreeMap::new(),
            interrupt_mode: InterruptMode::Signal,
            resource_dir: PathBuf::from("/"),
        }
    }

    #[test]
    fn language_aliases() {
        assert_eq!(normalize_language("JS"), "javascript");
        assert_eq!(normalize_language("ts"), "typescript");
        assert_eq!(normalize_language("Python"), "python");
        assert_eq!(normalize_language("r"), "r");
    }

    #[test]
    fn finds_by_language_then_name() {
        let specs = vec![
            spec("other-py", "python"),
            spec("python3", "python"),
            spec("ir", "r"),
        ];
        assert_eq!(
            find(&specs, "python").map(|s| s.name.as_str()),
            Some("python3")
        );
        assert_eq!(find(&specs, "r").map(|s| s.name.as_str()), Some("ir"));
        assert_eq!(find(&specs, "ir").map(|s| s.name.as_str()), Some("ir"));
        assert!(find(&specs, "java").is_none());
    }

    #[test]
    fn loads_kernel_json() {
        let dir = std::env::temp_dir().join(format!("cove-kspec-{}", std::process::id()));
        let k = dir.join("kernels/mykernel");
        std::fs::create_dir_all(&k).expect("mkdir");
        std::fs::write(
            k.join("kernel.json"),
            r#"{"argv":["python3","-m","ipykernel_launcher","-f","{connection_file}"],
                "display_name":"Mine","language":"Python","interrupt_mode":"message"}"#,
        )
        .expect("write");
        let s = load(&k).expect("spec");
        assert_eq!(
            (s.name.as_str(), s.language.as_str()),
            ("mykernel", "python")
        );
        assert_eq!(s.interrupt_mode, InterruptMode::Message);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
