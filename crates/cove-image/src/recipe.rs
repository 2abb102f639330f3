//! Build recipes: a base (another template, an image, or a Debian suite bootstrapped with
//! `mmdebstrap`) plus ordered steps. This is also the persisted form, so field names are stable.
//! Each layer-producing step is cached under a key chaining its parent's key, the step and the
//! context it runs in (env, user, workdir, copied content), so changing one step redoes only that
//! step and the ones after it.

use crate::error::{ImageError, ImageResult};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// A build recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// What the steps start from.
    pub from: Base,
    /// Steps, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Started in the background when a sandbox boots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Polled until it exits 0 before a sandbox create returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
}

/// The base of a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Base {
    /// Another template, by id or name.
    Template {
        /// Its id or name.
        template: String,
    },
    /// An image pulled from a registry (a reference equal to a template's name means that
    /// template, so a Dockerfile can say `FROM debian` after `debian` was built locally).
    Image {
        /// Image reference.
        image: String,
        /// Plain HTTP to its registry.
        #[serde(default, rename = "insecureRegistry")]
        insecure_registry: bool,
    },
    /// A Debian suite bootstrapped with `mmdebstrap --variant=minbase`.
    Debian {
        /// Suite, e.g. `bookworm`.
        debian: String,
        /// Extra packages.
        #[serde(default)]
        packages: Vec<String>,
    },
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Step {
    /// A shell command (`/bin/sh -c`), run as the current user in the current workdir.
    Run(String),
    /// An uploaded file (or every uploaded file under a directory name) copied to `dest`.
    Copy(CopyStep),
    /// Environment for later steps and for sandboxes.
    Env(BTreeMap<String, String>),
    /// Working directory for later steps and for sandboxes (created if missing).
    Workdir(String),
    /// User for later steps and the default user of sandboxes.
    User(String),
}

/// `copy` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyStep {
    /// Name of an uploaded file, or a directory prefix of uploaded names.
    pub src: String,
    /// Absolute destination path (a trailing `/` means "into this directory").
    pub dest: String,
}

impl Step {
    /// Short human form for logs.
    pub fn describe(&self) -> String {
        match self {
            Step::Run(c) => format!("RUN {c}"),
            Step::Copy(c) => format!("COPY {} {}", c.src, c.dest),
            Step::Env(m) => format!(
                "ENV {}",
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Step::Workdir(w) => format!("WORKDIR {w}"),
            Step::User(u) => format!("USER {u}"),
        }
    }
}

impl Recipe {
    /// Checks what can be checked without running anything.
    pub fn validate(&self) -> ImageResult<()> {
        if let Base::Debian { debian, packages } = &self.from {
            if !is_debian_word(debian) {
                return Err(ImageError::Recipe(format!("bad Debian suite {debian:?}")));
            }
            if let Some(p) = packages.iter().find(|p| !is_debian_word(p)) {
                return Err(ImageError::Recipe(format!("bad package name {p:?}")));
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            let bad = |m: &str| ImageError::Recipe(format!("step {}: {m}", i + 1));
            match s {
                Step::Run(c) if c.trim().is_empty() => return Err(bad("empty run command")),
                Step::Copy(c) if !c.dest.starts_with('/') => {
                    return Err(bad("copy dest must be an absolute path"))
                }
                Step::Copy(c) if c.src.is_empty() || c.src.contains("..") => {
                    return Err(bad("copy src must name an uploaded file"))
                }
                Step::Workdir(w) if !w.starts_with('/') => {
                    return Err(bad("workdir must be an absolute path"))
                }
                Step::User(u) if u.is_empty() || u.contains(char::is_whitespace) => {
                    return Err(bad("bad user"))
                }
                Step::Env(m) => {
                    if let Some(k) = m
                        .keys()
                        .find(|k| k.is_empty() || k.contains('=') || k.contains('\0'))
                    {
                        return Err(bad(&format!("bad env name {k:?}")));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn is_debian_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.:".contains(&b))
        && !s.starts_with('-')
}

/// Hex sha256 of the parts, NUL-separated: the key of a cached layer.
pub fn chain_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}
