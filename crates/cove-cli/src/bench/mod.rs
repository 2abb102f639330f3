//! `cove bench`: measures Cove end to end against its own private server and against baselines
//! taken in the same run (fork+exec, unshare+chroot, runc, crun), prints a table and writes a
//! JSON result. Nothing is asserted: machines are noisy, so the figures are for reading and
//! comparing, and `--quick` exists so CI keeps the bench from rotting.
//!
//! The bench owns everything it touches (temp dir, server, sandboxes, mounts, cgroups) and
//! removes it again on success, error or Ctrl-C; see [`server`].

mod baselines;
mod host;
mod report;
mod server;
mod stats;
mod suites;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Benchmark Cove: create, exec, files, density and delete, with same-run baselines.
#[derive(Debug, Parser)]
#[command(name = "cove bench")]
pub struct BenchArgs {
    /// Small sample sizes (under a minute); what CI runs.
    #[arg(long)]
    pub quick: bool,
    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Idle sandboxes started for the density test [default: 200, 10 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub density: Option<u32>,
}

/// Sample sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    cold: usize,
    /// Warm-pool creates, and the pool's `minIdle` while they run.
    pool: usize,
    pool_idle: u32,
    exec: usize,
    clients: usize,
    per_client: usize,
    concurrent: usize,
    file_mib: usize,
    density: usize,
    fork: usize,
    unshare: usize,
    oci: usize,
}

impl Plan {
    fn new(args: &BenchArgs) -> Plan {
        let p = if args.quick {
            Plan {
                cold: 5,
                pool: 5,
                pool_idle: 2,
                exec: 50,
                clients: 8,
                per_client: 10,
                concurrent: 10,
                file_mib: 10,
                density: 10,
                fork: 20,
                unshare: 5,
                oci: 3,
            }
        } else {
            Plan {
                cold: 50,
                pool: 50,
                pool_idle: 5,
                exec: 500,
                clients: 8,
                per_client: 100,
                concurrent: 50,
                file_mib: 100,
                density: 200,
                fork: 200,
                unshare: 50,
                oci: 20,
            }
        };
        Plan {
            density: args.density.map_or(p.density, |d| d as usize),
            ..p
        }
    }
}

/// `cove bench …` parsed on its own: its `--json FILE` would clash with the global `--json`
/// flag of the other commands, so `main` hands it the raw arguments.
pub fn main_with_args(args: Vec<std::ffi::OsString>) -> ExitCode {
    let args = match BenchArgs::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let plan = Plan::new(args);
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; build with `cargo build --release --bins` for real numbers");
    }
    let results = suites::run_all(plan)?;
    report::print(&results);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&results.to_json())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        eprintln!("results written to {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn args_parse() {
        BenchArgs::command().debug_assert();
        let a = BenchArgs::try_parse_from(["cove bench", "--quick", "--json", "r.json"]).unwrap();
        assert!(a.quick);
        assert_eq!(a.json, Some(PathBuf::from("r.json")));
        assert_eq!(Plan::new(&a).density, 10);
        let a = BenchArgs::try_parse_from(["cove bench", "--density", "1000"]).unwrap();
        assert_eq!(Plan::new(&a).density, 1000);
        assert!(BenchArgs::try_parse_from(["cove bench", "--density", "1001"]).is_err());
    }
}
