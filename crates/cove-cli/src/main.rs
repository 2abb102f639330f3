//! `cove`: the command-line front end of Cove. `cove serve` runs the server; every other command
//! talks to a server over the native `/v1` API through `cove-client`.

mod args;
mod bench;
mod config;
mod files;
mod output;
mod pool;
mod sandbox;
mod shell;
mod template;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cove_client::{Client, ClientError};

/// Self-hosted Linux sandboxes for AI agents.
#[derive(Debug, Parser)]
#[command(name = "cove", version, about, propagate_version = true)]
struct Cli {
    /// Server URL (else `url` in ~/.config/cove/config.toml, else http://127.0.0.1:8089).
    #[arg(long, global = true, env = "COVE_URL")]
    url: Option<String>,
    /// API key (else `api_key` in ~/.config/cove/config.toml).
    #[arg(long, global = true, env = "COVE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Cove server.
    Serve(cove_server::ServeArgs),
    /// Create, list, inspect and remove sandboxes; run commands in them.
    #[command(subcommand, visible_alias = "sb")]
    Sandbox(sandbox::SandboxCmd),
    /// Read and write files inside a sandbox.
    #[command(subcommand)]
    Files(files::FilesCmd),
    /// Build, import, pull, list and remove templates.
    #[command(subcommand, visible_alias = "tpl")]
    Template(template::TemplateCmd),
    /// Warm pools: keep sandboxes of a template booted ahead of demand.
    #[command(subcommand)]
    Pool(pool::PoolCmd),
    /// Benchmark Cove against same-run baselines (`cove bench --help` for options).
    #[command(disable_help_flag = true)]
    Bench {
        /// `--quick`, `--json FILE`, `--density N`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// What every client-side command needs.
pub struct Ctx {
    /// Connected client.
    pub client: Client,
    /// `--json` was given.
    pub json: bool,
}

fn main() -> ExitCode {
    // `cove bench --json FILE` would clash with the global `--json` flag, so the bench parses
    // its own arguments.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "bench") {
        return bench::main_with_args(argv[1..].to_vec());
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Cli {
        url,
        api_key,
        json,
        command,
    } = cli;
    match command {
        Command::Serve(args) => serve(args),
        Command::Sandbox(cmd) => sandbox::run(&connect(url, api_key, json)?, cmd),
        Command::Files(cmd) => files::run(&connect(url, api_key, json)?, cmd),
        Command::Template(cmd) => template::run(&connect(url, api_key, json)?, cmd),
        Command::Pool(cmd) => pool::run(&connect(url, api_key, json)?, cmd),
        Command::Bench { mut args } => {
            args.insert(0, "bench".into());
            Ok(bench::main_with_args(args))
        }
    }
}

/// Builds the client; the config file is read only here so `cove serve` never depends on it.
fn connect(url: Option<String>, api_key: Option<String>, json: bool) -> anyhow::Result<Ctx> {
    let file = match config::config_path() {
        Some(p) => config::load_file(&p)?,
        None => config::FileConfig::default(),
    };
    let resolved = config::resolve(url, api_key, file);
    let client = Client::new(&resolved.url, resolved.api_key)?;
    Ok(Ctx { client, json })
}

/// The server is async while the rest of the CLI is not, so a runtime exists only here.
fn serve(args: cove_server::ServeArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(cove_server::serve_command(args))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the error and picks the exit code: API errors show the server's code and message, and
/// a closed stdout (`cove ... | head`) is not an error at all.
fn report(e: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(e) {
        return ExitCode::SUCCESS;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = match e.downcast_ref::<ClientError>() {
        Some(ClientError::Api { code, message, .. }) => {
            writeln!(stderr, "error: {code}: {message}")
        }
        _ => writeln!(stderr, "error: {e:#}"),
    };
    ExitCode::FAILURE
}

/// Only errors from writing our own output count; a broken pipe deeper inside a transport error
/// means the server went away, which must still be reported.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let io = match e.downcast_ref::<ClientError>() {
        Some(ClientError::Write(io)) => Some(io),
        _ => e.downcast_ref::<std::io::Error>(),
    };
    io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exec_takes_trailing_args_verbatim() {
        let cli = Cli::try_parse_from([
            "cove", "sandbox", "exec", "sb1", "--cwd", "/tmp", "--", "ls", "-la", "--json",
        ])
        .unwrap();
        match cli.command {
            Command::Sandbox(sandbox::SandboxCmd::Exec(a)) => {
                assert_eq!(a.id, "sb1");
                assert_eq!(a.cwd.as_deref(), Some("/tmp"));
                assert_eq!(a.command, vec!["ls", "-la", "--json"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!cli.json);
    }

    #[test]
    fn create_collects_pairs() {
        let cli = Cli::try_parse_from([
            "cove",
            "--json",
            "sandbox",
            "create",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--metadata",
            "team=ml",
            "--setup",
            "echo hi",
        ])
        .unwrap();
        assert!(cli.json);
        match cli.command {
            Command::Sandbox(sandbox::SandboxCmd::Create(a)) => {
                assert_eq!(
                    a.env,
                    vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
                );
                assert_eq!(a.metadata, vec![("team".into(), "ml".into())]);
                assert_eq!(a.setup, vec!["echo hi"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_pair_is_usage_error() {
        let err = Cli::try_parse_from(["cove", "sandbox", "create", "--env", "NOEQ"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn broken_pipe_detection() {
        let e = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&e));
        let e = anyhow::Error::from(ClientError::Write(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        )));
        assert!(is_broken_pipe(&e));
        let e = anyhow::Error::from(ClientError::BodyRead(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        )));
        assert!(!is_broken_pipe(&e));
    }
}
