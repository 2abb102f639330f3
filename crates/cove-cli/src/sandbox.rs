//! `cove sandbox ...`: lifecycle, logs and exec.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};
use cove_api::{CreateSandboxRequest, ExecRequest, Sandbox, SandboxList};
use cove_client::ListParams;

use crate::args::{exec_command, kv_map, parse_kv, split_statuses, ExecCommand};
use crate::output;
use crate::Ctx;

/// Exit status of a timed-out exec, the same as coreutils `timeout(1)`.
const EXIT_TIMED_OUT: u8 = 124;

#[derive(Debug, Subcommand)]
pub enum SandboxCmd {
    /// Create a sandbox and print its id.
    Create(CreateArgs),
    /// List sandboxes.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show one sandbox.
    Get {
        /// Sandbox id or name.
        id: String,
    },
    /// Kill and remove sandboxes.
    #[command(visible_alias = "kill")]
    Rm {
        /// Sandbox ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reset the auto-kill timer (0 disables it).
    Timeout {
        /// Sandbox id.
        id: String,
        /// Seconds from now.
        secs: u64,
    },
    /// Show a sandbox's lifecycle and setup log.
    Logs {
        /// Sandbox id.
        id: String,
    },
    /// Run a command in a sandbox and exit with its exit code.
    Exec(ExecArgs),
    /// Attach this terminal to an interactive shell in the sandbox (like `docker exec -it`).
    Shell {
        /// Sandbox id or name.
        id: String,
        /// User to run the shell as [server default: user].
        #[arg(long)]
        user: Option<String>,
        /// Working directory.
        #[arg(long)]
        cwd: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Template id or name [server default: base].
    #[arg(long, short = 't')]
    pub template: Option<String>,
    /// Unique name (lowercase letters, digits and `-`).
    #[arg(long)]
    pub name: Option<String>,
    /// Auto-kill after SECS seconds (0 = never) [server default: 300].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// CPU cores.
    #[arg(long, value_name = "N")]
    pub cpu: Option<u64>,
    /// Memory limit in MiB.
    #[arg(long, value_name = "MB")]
    pub memory: Option<u64>,
    /// Writable disk size in MiB.
    #[arg(long, value_name = "MB")]
    pub disk: Option<u64>,
    /// Environment variable of every process (repeatable).
    #[arg(long, short = 'e', value_name = "K=V", value_parser = parse_kv)]
    pub env: Vec<(String, String)>,
    /// Metadata label (repeatable).
    #[arg(long, short = 'm', value_name = "K=V", value_parser = parse_kv)]
    pub metadata: Vec<(String, String)>,
    /// Shell command run after start; the first failure fails the create (repeatable, in order).
    #[arg(long, value_name = "CMD")]
    pub setup: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only these statuses (comma-separated or repeated), e.g. running,killed.
    #[arg(long, short = 's', value_name = "S")]
    pub status: Vec<String>,
    /// Only sandboxes with this metadata pair (repeatable; all must match).
    #[arg(long, short = 'm', value_name = "K=V", value_parser = parse_kv)]
    pub metadata: Vec<(String, String)>,
    /// Only sandboxes of this template.
    #[arg(long, short = 't')]
    pub template: Option<String>,
    /// Page size.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Start at this page cursor (from a previous `nextCursor`).
    #[arg(long, conflicts_with = "all")]
    pub cursor: Option<String>,
    /// Follow cursors and list every page.
    #[arg(long, short = 'a')]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Sandbox id.
    pub id: String,
    /// Working directory (relative to /home/user).
    #[arg(long)]
    pub cwd: Option<String>,
    /// User to run as [server default: user].
    #[arg(long)]
    pub user: Option<String>,
    /// Extra environment variable (repeatable).
    #[arg(long, short = 'e', value_name = "K=V", value_parser = parse_kv)]
    pub env: Vec<(String, String)>,
    /// Kill the process after N milliseconds [server default: 60000].
    #[arg(long, value_name = "N")]
    pub timeout_ms: Option<u64>,
    /// Run the words as one command line through bash instead of as a program + arguments.
    #[arg(long)]
    pub shell: bool,
    /// Send this CLI's stdin (read to the end first; must be UTF-8) to the process.
    #[arg(long)]
    pub stdin: bool,
    /// The command and its arguments (put `--` before it if it has options of its own).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

pub fn run(ctx: &Ctx, cmd: SandboxCmd) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        SandboxCmd::Create(a) => create(ctx, a, &mut out)?,
        SandboxCmd::Ls(a) => list(ctx, a, &mut out)?,
        SandboxCmd::Get { id } => {
            let sb = ctx.client.get_sandbox(&id)?;
            if ctx.json {
                output::json(&mut out, &sb)?;
            } else {
                describe(&mut out, &sb)?;
            }
        }
        SandboxCmd::Rm { ids } => return remove(ctx, &ids, &mut out),
        SandboxCmd::Timeout { id, secs } => {
            let sb = ctx.client.set_timeout(&id, secs)?;
            if ctx.json {
                output::json(&mut out, &sb)?;
            } else {
                match sb.end_at {
                    Some(t) => writeln!(
                        out,
                        "{} ends at {} ({})",
                        sb.id,
                        output::timestamp(Some(t)),
                        output::relative(t, Utc::now())
                    )?,
                    None => writeln!(out, "{} has no timeout", sb.id)?,
                }
            }
        }
        SandboxCmd::Logs { id } => {
            let logs = ctx.client.logs(&id)?;
            if ctx.json {
                output::json(&mut out, &logs)?;
            } else {
                for l in &logs.logs {
                    writeln!(
                        out,
                        "{}  {:<9}  {}",
                        output::timestamp(Some(l.timestamp)),
                        l.kind,
                        l.message
                    )?;
                }
            }
        }
        SandboxCmd::Exec(a) => return exec(ctx, a, &mut out),
        SandboxCmd::Shell { id, user, cwd } => {
            drop(out);
            return crate::shell::run(&ctx.client, &id, user.as_deref(), cwd.as_deref());
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn create(ctx: &Ctx, a: CreateArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let req = CreateSandboxRequest {
        template_id: a.template,
        name: a.name,
        timeout_seconds: a.timeout,
        metadata: kv_map(&a.metadata),
        envs: kv_map(&a.env),
        cpu_count: a.cpu,
        memory_mb: a.memory,
        disk_size_mb: a.disk,
        files: None,
        setup: if a.setup.is_empty() {
            None
        } else {
            Some(a.setup)
        },
    };
    let sb = ctx.client.create_sandbox(&req)?;
    if ctx.json {
        output::json(out, &sb)?;
    } else {
        writeln!(out, "{}", sb.id)?;
    }
    Ok(())
}

fn list(ctx: &Ctx, a: LsArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let mut params = ListParams {
        status: split_statuses(&a.status),
        metadata: a.metadata.into_iter().collect(),
        template_id: a.template,
        limit: a.limit,
        cursor: a.cursor,
    };
    let mut page = ctx.client.list_sandboxes(&params)?;
    if a.all {
        let mut items = std::mem::take(&mut page.items);
        while let Some(cursor) = page.next_cursor.take() {
            // A server that hands back the cursor it was given would loop forever.
            if params.cursor.as_deref() == Some(cursor.as_str()) {
                break;
            }
            params.cursor = Some(cursor);
            page = ctx.client.list_sandboxes(&params)?;
            items.append(&mut page.items);
        }
        page = SandboxList {
            items,
            next_cursor: None,
        };
    }
    if ctx.json {
        return output::json(out, &page);
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.name.clone(),
                s.template_id.clone(),
                s.status.clone(),
                output::relative(s.created_at, now),
                s.end_at
                    .map(|t| output::relative(t, now))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(
        out,
        &["ID", "NAME", "TEMPLATE", "STATUS", "CREATED", "ENDS"],
        &rows,
    )?;
    if let Some(c) = &page.next_cursor {
        // On stderr so the table stays clean for `| awk`.
        eprintln!("(more results: --all, or --cursor {c})");
    }
    Ok(())
}

fn describe(out: &mut impl Write, s: &Sandbox) -> std::io::Result<()> {
    let now = Utc::now();
    let with_rel = |t: Option<chrono::DateTime<Utc>>| match t {
        Some(t) => format!(
            "{} ({})",
            output::timestamp(Some(t)),
            output::relative(t, now)
        ),
        None => "-".to_string(),
    };
    let metadata = s
        .metadata
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows = vec![
        ("id", s.id.clone()),
        ("name", s.name.clone()),
        ("template", s.template_id.clone()),
        ("status", s.status.clone()),
        ("cpu", s.cpu_count.to_string()),
        ("memory", format!("{} MiB", s.memory_mb)),
        ("disk", format!("{} MiB", s.disk_size_mb)),
        ("created", with_rel(Some(s.created_at))),
        ("started", with_rel(s.started_at)),
        (
            "ends",
            s.end_at
                .map(|t| with_rel(Some(t)))
                .unwrap_or_else(|| "never".into()),
        ),
        (
            "metadata",
            if metadata.is_empty() {
                "-".into()
            } else {
                metadata
            },
        ),
    ];
    if let Some(e) = &s.error {
        rows.push(("error", e.clone()));
    }
    for (k, v) in rows {
        writeln!(out, "{:<9} {v}", format!("{k}:"))?;
    }
    Ok(())
}

/// Removes every id even when some fail, so `cove sandbox rm a b c` does as much as it can.
fn remove(ctx: &Ctx, ids: &[String], out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for id in ids {
        match ctx.client.delete_sandbox(id) {
            Ok(()) => {
                if !ctx.json {
                    writeln!(out, "{id}")?;
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("error: {id}: {e}");
            }
        }
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn exec(ctx: &Ctx, a: ExecArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let command = exec_command(&a.command, a.shell).context("no command given")?;
    let stdin = if a.stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading stdin (it must be UTF-8)")?;
        Some(s)
    } else {
        None
    };
    let (command, cmd, args) = match command {
        ExecCommand::Shell(line) => (Some(line), None, None),
        ExecCommand::Argv { cmd, args } => (None, Some(cmd), Some(args)),
    };
    let req = ExecRequest {
        command,
        cmd,
        args,
        cwd: a.cwd,
        envs: kv_map(&a.env),
        user: a.user,
        timeout_ms: a.timeout_ms,
        stdin,
        stream: None,
    };
    let res = ctx.client.exec(&a.id, &req)?;
    if ctx.json {
        // The exit status is in the JSON; the CLI call itself succeeded.
        output::json(out, &res)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    out.write_all(res.stdout.as_bytes())?;
    out.flush()?;
    {
        let mut err = std::io::stderr().lock();
        // stderr failures are ignored: there is nowhere left to report them.
        let _ = err.write_all(res.stderr.as_bytes());
        if res.truncated {
            let _ = writeln!(err, "cove: output truncated by the server");
        }
        if res.timed_out {
            let _ = writeln!(err, "cove: command timed out after {} ms", res.duration_ms);
        }
    }
    Ok(ExitCode::from(exit_status(res.exit_code, res.timed_out)))
}

/// Maps the remote exit code to ours. A signal death (-1) becomes 255, as `exit -1` does in bash.
fn exit_status(code: i32, timed_out: bool) -> u8 {
    if timed_out {
        return EXIT_TIMED_OUT;
    }
    u8::try_from(code).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_status(0, false), 0);
        assert_eq!(exit_status(3, false), 3);
        assert_eq!(exit_status(0, true), 124);
        assert_eq!(exit_status(-1, true), 124);
        assert_eq!(exit_status(-1, false), 255);
        assert_eq!(exit_status(300, false), 255);
    }
}
