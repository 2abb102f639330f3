//! `cove template …`: build templates from a directory (`cove.toml`, `recipe.json` or
//! `Dockerfile`, plus the files its copy steps use), import OCI layouts, pull images, and list,
//! inspect, follow and remove templates. Builds are followed live by default: the server's build
//! log carries pull and step progress.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use cove_api::{CreateTemplateRequest, RegistryAuth, Template};
use cove_client::Upload;

use crate::output;
use crate::Ctx;

/// Files a build directory describes itself with; never uploaded.
const SPEC_FILES: [&str; 3] = ["cove.toml", "recipe.json", "Dockerfile"];

#[derive(Debug, Subcommand)]
pub enum TemplateCmd {
    /// Build a template from a directory with cove.toml, recipe.json or a Dockerfile.
    Build(BuildArgs),
    /// Import an OCI image layout (directory or .tar, e.g. from `skopeo copy … oci-archive:`).
    Import(ImportArgs),
    /// Pull an image from a registry into a template.
    Pull(PullArgs),
    /// List templates.
    #[command(visible_alias = "ls")]
    List,
    /// Show one template.
    Get {
        /// Id or name.
        id: String,
    },
    /// Print a template's build log.
    Logs {
        /// Id or name.
        id: String,
        /// Keep streaming until the build ends.
        #[arg(short, long)]
        follow: bool,
    },
    /// Delete a template.
    #[command(visible_alias = "rm")]
    Delete {
        /// Id or name.
        id: String,
    },
}

/// Options shared by every create.
#[derive(Debug, Args)]
pub struct Common {
    /// Template name (default: from cove.toml, else the directory or file name).
    #[arg(long)]
    name: Option<String>,
    /// Return once the build started instead of following its log.
    #[arg(long)]
    no_follow: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Build directory.
    dir: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// OCI layout directory or tar (a directory is tarred on the fly by `tar`).
    path: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Image reference.
    reference: String,
    /// Use plain HTTP for this registry.
    #[arg(long)]
    insecure: bool,
    /// Registry user (the password is read from COVE_REGISTRY_PASSWORD).
    #[arg(long)]
    username: Option<String>,
    /// Bearer token (else COVE_REGISTRY_TOKEN).
    #[arg(long, env = "COVE_REGISTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    common: Common,
}

pub fn run(ctx: &Ctx, cmd: TemplateCmd) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        TemplateCmd::Build(a) => {
            let (req, uploads) = build_request(&a.dir, a.common.name.clone())?;
            submit(ctx, req, uploads, a.common.no_follow)
        }
        TemplateCmd::Import(a) => {
            let name = match a.common.name.clone() {
                Some(n) => n,
                None => default_name(&a.path)?,
            };
            let (tar, _tmp) = as_tar(&a.path)?;
            let req = CreateTemplateRequest {
                name,
                ..Default::default()
            };
            let uploads = vec![Upload {
                name: "image".into(),
                path: tar,
            }];
            submit(ctx, req, uploads, a.common.no_follow)
        }
        TemplateCmd::Pull(a) => {
            let auth = match (a.username, a.token) {
                (Some(username), _) => Some(RegistryAuth::Basic {
                    username,
                    password: std::env::var("COVE_REGISTRY_PASSWORD").unwrap_or_default(),
                }),
                (None, Some(token)) => Some(RegistryAuth::Token { token }),
                (None, None) => None,
            };
            let name = match a.common.name.clone() {
                Some(n) => n,
                None => image_name(&a.reference),
            };
            let req = CreateTemplateRequest {
                name,
                image: Some(a.reference),
                insecure_registry: a.insecure.then_some(true),
                auth,
                ..Default::default()
            };
            submit(ctx, req, vec![], a.common.no_follow)
        }
        TemplateCmd::List => {
            let list = ctx.client.list_templates()?;
            if ctx.json {
                output::json(&mut out, &list.items)?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .items
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.name.clone(),
                            t.status.clone(),
                            t.kind.clone(),
                            t.layers.to_string(),
                            t.user.clone().unwrap_or_default(),
                            t.error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                output::table(
                    &mut out,
                    &["ID", "NAME", "STATUS", "KIND", "LAYERS", "USER", "ERROR"],
                    &rows,
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TemplateCmd::Get { id } => {
            let t = ctx.client.get_template(&id)?;
            output::json(&mut out, &t)?;
            Ok(status_code(&t))
        }
        TemplateCmd::Logs { id, follow } => {
            ctx.client.template_build_log(&id, follow, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        TemplateCmd::Delete { id } => {
            ctx.client.delete_template(&id)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn status_code(t: &Template) -> ExitCode {
    if t.status == "error" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Starts the build, follows its log (progress goes to stderr so stdout stays the result) and
/// prints the final template.
fn submit(
    ctx: &Ctx,
    req: CreateTemplateRequest,
    uploads: Vec<Upload>,
    no_follow: bool,
) -> anyhow::Result<ExitCode> {
    let t = if uploads.is_empty() {
        ctx.client.create_template(&req)?
    } else {
        ctx.client.create_template_with_files(&req, &uploads)?
    };
    if no_follow {
        output::json(&mut std::io::stdout().lock(), &t)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut err = std::io::stderr().lock();
    ctx.client.template_build_log(&t.id, true, &mut err)?;
    err.flush()?;
    let t = ctx.client.get_template(&t.id)?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::json(&mut out, &t)?;
    } else {
        match &t.error {
            Some(e) => writeln!(out, "{} {}: {e}", t.name, t.status)?,
            None => writeln!(out, "{} {} ({})", t.name, t.status, t.id)?,
        }
    }
    Ok(status_code(&t))
}

/// Reads a build directory into a request and the files to upload.
pub fn build_request(
    dir: &Path,
    name: Option<String>,
) -> anyhow::Result<(CreateTemplateRequest, Vec<Upload>)> {
    let toml_path = dir.join("cove.toml");
    let json_path = dir.join("recipe.json");
    let docker_path = dir.join("Dockerfile");
    let mut value: serde_json::Value = if toml_path.is_file() {
        let text = std::fs::read_to_string(&toml_path)
            .with_context(|| format!("reading {}", toml_path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", toml_path.display()))?
    } else if json_path.is_file() {
        let text = std::fs::read_to_string(&json_path)
            .with_context(|| format!("reading {}", json_path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", json_path.display()))?;
        // A bare recipe ({"from":…}) or a whole request ({"name":…,"recipe":…}).
        if v.get("from").is_some() {
            serde_json::json!({ "recipe": v })
        } else {
            v
        }
    } else if docker_path.is_file() {
        let text = std::fs::read_to_string(&docker_path)
            .with_context(|| format!("reading {}", docker_path.display()))?;
        serde_json::json!({ "dockerfile": text })
    } else {
        bail!(
            "{} has no cove.toml, recipe.json or Dockerfile",
            dir.display()
        );
    };
    let name = match name.or_else(|| value.get("name").and_then(|n| n.as_str()).map(String::from)) {
        Some(n) => n,
        None => default_name(dir)?,
    };
    if let Some(obj) = value.as_object_mut() {
        obj.insert("name".into(), serde_json::Value::String(name));
    }
    let req: CreateTemplateRequest =
        serde_json::from_value(value).context("the build spec does not match the template API")?;
    let mut uploads = Vec::new();
    collect_files(dir, dir, &mut uploads)?;
    Ok((req, uploads))
}

/// Every regular file under `dir` except hidden ones and the spec files, named by its relative
/// path, so `copy` steps and `COPY` lines can refer to them as in a Docker build context.
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<Upload>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || (dir == root && SPEC_FILES.contains(&name.as_str())) {
            continue;
        }
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            collect_files(root, &p, out)?;
        } else if ft.is_file() {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            out.push(Upload { name: rel, path: p });
        }
    }
    Ok(())
}

fn default_name(p: &Path) -> anyhow::Result<String> {
    let abs = std::fs::canonicalize(p).with_context(|| format!("{}", p.display()))?;
    let stem = abs
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if name.is_empty() {
        bail!(
            "cannot derive a template name from {}; pass --name",
            p.display()
        );
    }
    Ok(name)
}

/// `registry/team/py:1` → `py`.
fn image_name(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let base = last.split(['@', ':']).next().unwrap_or(last);
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// A tar of `path`: the file itself, or a temporary tar of a layout directory.
fn as_tar(path: &Path) -> anyhow::Result<(PathBuf, Option<TempFile>)> {
    if path.is_file() {
        return Ok((path.to_path_buf(), None));
    }
    let tmp = std::env::temp_dir().join(format!("cove-layout-{}.tar", std::process::id()));
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(path)
        .arg("-cf")
        .arg(&tmp)
        .arg(".")
        .status()
        .context("running tar")?;
    if !st.success() {
        bail!("tar of {} failed: {st}", path.display());
    }
    Ok((tmp.clone(), Some(TempFile(tmp))))
}

/// Removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
