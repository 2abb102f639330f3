//! Bootstrapping a Debian root with `mmdebstrap --variant=minbase` on the host. The result is one
//! layer keyed by (suite, packages), so every recipe on the same base shares it.

use crate::error::{ImageError, ImageResult};
use crate::recipe::chain_key;
use crate::store::ImageStore;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Key of the layer `bootstrap` produces.
pub fn key(suite: &str, packages: &[String]) -> String {
    let mut p = packages.to_vec();
    p.sort();
    p.dedup();
    chain_key(&["debian-minbase", suite, &p.join(",")])
}

/// Bootstraps `suite` with `packages` unless cached; returns the layer id. Blocking.
pub fn bootstrap(
    store: &ImageStore,
    suite: &str,
    packages: &[String],
    log: &mut dyn FnMut(String),
) -> ImageResult<String> {
    let id = key(suite, packages);
    if store.has_layer(&id) {
        log(format!("debian {suite} bootstrap cached"));
        return Ok(id);
    }
    let tmp = store.tmp_dir("debian")?;
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--variant=minbase", "--mode=root", "--format=directory"]);
    if !packages.is_empty() {
        cmd.arg(format!("--include={}", packages.join(",")));
    }
    cmd.arg(suite).arg(&tmp);
    log(format!(
        "mmdebstrap --variant=minbase {suite} (+{})",
        packages.join(",")
    ));
    let res = run_logged(cmd, log);
    match res {
        Ok(()) => store.commit_layer(&tmp, &id).map(|_| id),
        Err(e) => {
            let _ = crate::unpack::clear(&tmp);
            Err(e)
        }
    }
}

/// Runs `cmd`, passing stdout and stderr lines to `log`.
fn run_logged(mut cmd: Command, log: &mut dyn FnMut(String)) -> ImageResult<()> {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ImageError::Command {
            program: prog.clone(),
            message: format!("{e} (install it with `apt-get install -y mmdebstrap`)"),
        })?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        }));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        }));
    }
    drop(tx);
    let mut tail = Vec::new();
    for l in rx {
        log(l.clone());
        tail.push(l);
        if tail.len() > 10 {
            tail.remove(0);
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let st = child.wait().map_err(|e| ImageError::Command {
        program: prog.clone(),
        message: e.to_string(),
    })?;
    if st.success() {
        Ok(())
    } else {
        Err(ImageError::Command {
            program: prog,
            message: format!("{st}: {}", tail.join(" | ")),
        })
    }
}
