//! `cove files ...`: filesystem access inside a sandbox. Transfers stream in both directions so
//! large files never sit in memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use cove_api::{DirListing, FileEntry};
use cove_client::Body;

use crate::output;
use crate::Ctx;

/// Listing target when none is given: the default user's home.
const DEFAULT_DIR: &str = "/home/user";

#[derive(Debug, Subcommand)]
pub enum FilesCmd {
    /// List a directory (or show one file's entry).
    Ls {
        /// Sandbox id.
        id: String,
        /// Path inside the sandbox.
        #[arg(default_value = DEFAULT_DIR)]
        path: String,
    },
    /// Print a file's raw bytes.
    Cat {
        /// Sandbox id.
        id: String,
        /// Path inside the sandbox.
        path: String,
    },
    /// Upload a local file (`-` reads stdin); parent directories are created.
    Put {
        /// Sandbox id.
        id: String,
        /// Local file, or `-` for stdin.
        local: PathBuf,
        /// Destination inside the sandbox.
        remote: String,
    },
    /// Download a file.
    Get {
        /// Sandbox id.
        id: String,
        /// Path inside the sandbox.
        remote: String,
        /// Local destination (a directory keeps the remote name; `-` is stdout)
        /// [default: the remote base name].
        local: Option<PathBuf>,
    },
    /// Delete a file or directory.
    Rm {
        /// Sandbox id.
        id: String,
        /// Path inside the sandbox.
        path: String,
    },
    /// Create a directory and its parents.
    Mkdir {
        /// Sandbox id.
        id: String,
        /// Path inside the sandbox.
        path: String,
    },
    /// Rename or move a path.
    Mv {
        /// Sandbox id.
        id: String,
        /// Existing path.
        from: String,
        /// New path.
        to: String,
    },
    /// Show one path's metadata.
    Stat {
        /// Sandbox id.
        id: String,
        /// Path inside the sandbox.
        path: String,
    },
}

pub fn run(ctx: &Ctx, cmd: FilesCmd) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        FilesCmd::Ls { id, path } => {
            // Stat first so listing a large file does not download its content.
            let entry = ctx.client.stat(&id, &path)?;
            let listing = if entry.kind == "dir" {
                ctx.client.list_files(&id, &path)?
            } else {
                DirListing {
                    path: entry.path.clone(),
                    entries: vec![entry],
                }
            };
            if ctx.json {
                output::json(&mut out, &listing)?;
            } else {
                list_table(&mut out, &listing.entries)?;
            }
        }
        FilesCmd::Cat { id, path } => {
            // A BufWriter avoids the line-buffered stdout flushing at every newline of binary data.
            let mut w = BufWriter::with_capacity(64 * 1024, &mut out);
            ctx.client.read_file_to(&id, &path, &mut w)?;
            w.flush()?;
        }
        FilesCmd::Put { id, local, remote } => {
            let body = if local.as_os_str() == "-" {
                Body::new(std::io::stdin())
            } else {
                let f =
                    File::open(&local).with_context(|| format!("opening {}", local.display()))?;
                Body::from(f)
            };
            let entry = ctx.client.write_file(&id, &remote, body)?;
            entry_out(ctx, &mut out, &entry)?;
        }
        FilesCmd::Get { id, remote, local } => get(ctx, &id, &remote, local, &mut out)?,
        FilesCmd::Rm { id, path } => ctx.client.delete_file(&id, &path)?,
        FilesCmd::Mkdir { id, path } => {
            let entry = ctx.client.mkdir(&id, &path)?;
            entry_out(ctx, &mut out, &entry)?;
        }
        FilesCmd::Mv { id, from, to } => {
            let entry = ctx.client.rename(&id, &from, &to)?;
            entry_out(ctx, &mut out, &entry)?;
        }
        FilesCmd::Stat { id, path } => {
            let e = ctx.client.stat(&id, &path)?;
            if ctx.json {
                output::json(&mut out, &e)?;
            } else {
                describe(&mut out, &e)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn get(
    ctx: &Ctx,
    id: &str,
    remote: &str,
    local: Option<PathBuf>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if local.as_deref().is_some_and(|l| l.as_os_str() == "-") {
        let mut w = BufWriter::with_capacity(64 * 1024, &mut *out);
        ctx.client.download_to(id, remote, &mut w)?;
        w.flush()?;
        return Ok(());
    }
    let dest = destination(remote, local.as_deref())?;
    // Download beside the destination and rename at the end, so a failed transfer neither leaves a
    // truncated file that looks complete nor clobbers a file that was already there.
    let part = part_path(&dest);
    let file = File::create(&part).with_context(|| format!("creating {}", part.display()))?;
    let mut w = BufWriter::new(file);
    let result = ctx
        .client
        .download_to(id, remote, &mut w)
        .map_err(anyhow::Error::from)
        .and_then(|n| {
            w.flush()?;
            Ok(n)
        });
    drop(w);
    let result = result.and_then(|n| {
        std::fs::rename(&part, &dest)
            .with_context(|| format!("renaming {} to {}", part.display(), dest.display()))?;
        Ok(n)
    });
    match result {
        Ok(n) => {
            if !ctx.json {
                writeln!(out, "{} ({n} bytes)", dest.display())?;
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e.context(format!("downloading {remote}")))
        }
    }
}

/// Hidden sibling of `dest` used while downloading.
fn part_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.cove-part"))
}

/// Where `files get` writes: LOCAL, LOCAL/<basename> when LOCAL is a directory, or ./<basename>.
fn destination(remote: &str, local: Option<&Path>) -> anyhow::Result<PathBuf> {
    let base = || {
        remote
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|b| !b.is_empty() && *b != "." && *b != "..")
            .map(PathBuf::from)
            .with_context(|| format!("cannot derive a local file name from `{remote}`"))
    };
    match local {
        Some(l) if l.is_dir() => Ok(l.join(base()?)),
        Some(l) => Ok(l.to_path_buf()),
        None => base(),
    }
}

fn entry_out(ctx: &Ctx, out: &mut impl Write, e: &FileEntry) -> anyhow::Result<()> {
    if ctx.json {
        output::json(out, e)
    } else {
        writeln!(out, "{}", e.path)?;
        Ok(())
    }
}

fn mode_string(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

fn list_table(out: &mut impl Write, entries: &[FileEntry]) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let name = match &e.symlink_target {
                Some(t) => format!("{} -> {t}", e.name),
                None if e.kind == "dir" => format!("{}/", e.name),
                None => e.name.clone(),
            };
            vec![
                e.kind.clone(),
                mode_string(e.mode),
                e.size.to_string(),
                output::timestamp(e.modified_time),
                name,
            ]
        })
        .collect();
    output::table(out, &["TYPE", "MODE", "SIZE", "MODIFIED", "NAME"], &rows)
}

fn describe(out: &mut impl Write, e: &FileEntry) -> std::io::Result<()> {
    writeln!(out, "path:     {}", e.path)?;
    writeln!(out, "type:     {}", e.kind)?;
    writeln!(out, "size:     {}", e.size)?;
    writeln!(out, "mode:     {}", mode_string(e.mode))?;
    writeln!(out, "modified: {}", output::timestamp(e.modified_time))?;
    if let Some(t) = &e.symlink_target {
        writeln!(out, "target:   {t}")?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn destination_defaults_to_basename() {
        assert_eq!(
            destination("/home/user/a.txt", None).unwrap(),
            PathBuf::from("a.txt")
        );
        assert_eq!(
            destination("/home/user/dir/", None).unwrap(),
            PathBuf::from("dir")
        );
        assert!(destination("/", None).is_err());
        assert!(destination("..", None).is_err());
        assert_eq!(
            destination("/x/a.txt", Some(Path::new("out.bin"))).unwrap(),
            PathBuf::from("out.bin")
        );
        let tmp = std::env::temp_dir();
        assert_eq!(
            destination("/x/a.txt", Some(&tmp)).unwrap(),
            tmp.join("a.txt")
        );
    }

    #[test]
    fn part_is_hidden_sibling() {
        assert_eq!(
            part_path(Path::new("/tmp/x/a.bin")),
            PathBuf::from("/tmp/x/.a.bin.cove-part")
        );
        assert_eq!(part_path(Path::new("a")), PathBuf::from(".a.cove-part"));
    }

    #[test]
    fn modes() {
        assert_eq!(mode_string(0o644), "0644");
        assert_eq!(mode_string(0o100755), "0755");
    }
}
