//! Manual driver for the runc backend: `sandbox create <data_dir> <agent>` prints the id of a new
//! sandbox from the base template; `sandbox delete <data_dir> <id>` removes it. Handy for poking
//! at a live container with `runc --root <data_dir>/runc exec <id> sh`.

use std::path::PathBuf;

use cove_runtime::{base, RuncRuntime, Runtime, RuntimeConfig, SandboxSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: sandbox create|delete|state|stats <data_dir> [<agent>|<id>]";
    let (cmd, data) = match (args.get(1), args.get(2)) {
        (Some(c), Some(d)) => (c.as_str(), PathBuf::from(d)),
        _ => return Err(usage.into()),
    };
    let rt = RuncRuntime::new(RuntimeConfig::new(data.join("runtime")))?;
    let arg = args.get(3).cloned().ok_or(usage)?;
    match cmd {
        "create" => {
            let rootfs = base::ensure_base_template(&data.join("templates/base"))?;
            let spec = SandboxSpec {
                id: cove_types::new_sandbox_id(),
                rootfs,
                agent_binary: PathBuf::from(arg),
                init_args: vec![],
                init_env: vec![],
                limits: cove_types::Limits::DEFAULT,
                network: cove_runtime::Network::Isolated,
            };
            let (c, t) = rt.create_timed(&spec)?;
            println!("{} pid={} {:?}", spec.id, c.pid, t);
        }
        "delete" => rt.delete(&arg)?,
        "state" => println!("{:?}", rt.state(&arg)?),
        "stats" => println!("{:?}", rt.stats(&arg)?),
        _ => return Err(usage.into()),
    }
    Ok(())
}
