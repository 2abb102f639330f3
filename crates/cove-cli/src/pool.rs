//! `cove pool ...`: warm pools per template.

use crate::output;
use crate::Ctx;
use clap::Subcommand;
use std::io::Write;
use std::process::ExitCode;

/// Pool subcommands.
#[derive(Debug, Subcommand)]
pub enum PoolCmd {
    /// List pools with their fill level and hit/miss counts.
    Ls,
    /// Keep N idle sandboxes of a template ready.
    Set {
        /// Template id or name.
        template: String,
        /// Idle sandboxes to keep ready.
        min_idle: u32,
        /// Upper bound on idle sandboxes.
        #[arg(long)]
        max: Option<u32>,
    },
    /// Remove a pool and its idle sandboxes.
    Rm {
        /// Template id or name.
        template: String,
    },
    /// List a pool's idle sandboxes.
    Sandboxes {
        /// Template id or name.
        template: String,
    },
}

pub fn run(ctx: &Ctx, cmd: PoolCmd) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        PoolCmd::Ls => {
            let list = ctx.client.pools()?;
            if ctx.json {
                output::json(&mut out, &list)?;
            } else {
                writeln!(
                    out,
                    "{:<24} {:>8} {:>5} {:>6} {:>8} {:>8} {:>8}",
                    "TEMPLATE", "MIN_IDLE", "MAX", "IDLE", "BOOTING", "HITS", "MISSES"
                )?;
                for p in list.items {
                    writeln!(
                        out,
                        "{:<24} {:>8} {:>5} {:>6} {:>8} {:>8} {:>8}",
                        p.template_id, p.min_idle, p.max, p.idle, p.booting, p.hits, p.misses
                    )?;
                }
            }
        }
        PoolCmd::Set {
            template,
            min_idle,
            max,
        } => {
            let p = ctx.client.set_pool(&template, min_idle, max)?;
            if ctx.json {
                output::json(&mut out, &p)?;
            } else {
                writeln!(
                    out,
                    "pool {}: minIdle {} max {} (idle now {})",
                    p.template_id, p.min_idle, p.max, p.idle
                )?;
            }
        }
        PoolCmd::Rm { template } => {
            ctx.client.delete_pool(&template)?;
            if !ctx.json {
                writeln!(out, "removed pool {template}")?;
            }
        }
        PoolCmd::Sandboxes { template } => {
            let list = ctx.client.pool_sandboxes(&template)?;
            if ctx.json {
                output::json(&mut out, &list)?;
            } else {
                for s in list.items {
                    writeln!(
                        out,
                        "{}  ready {}",
                        s.id,
                        output::timestamp(Some(s.ready_at))
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
