//! Death monitor: waits on a pidfd of the sandbox's init so a crash or an OOM kill of the agent is
//! noticed at once (not at the next poll) and the sandbox is marked `error` with the reason.

use super::SandboxService;
use cove_types::SandboxState;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
use tokio::io::unix::AsyncFd;

fn pidfd_open(pid: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is shared.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Resolves when `pid` exits (or immediately if it is already gone).
async fn exited(pid: u32) {
    let registered = pidfd_open(pid).ok().and_then(|fd| {
        // SAFETY: `fd` is an OwnedFd moved into the AsyncFd, so it stays open and keeps referring to
        // the same pidfd for the AsyncFd's whole lifetime.
        unsafe { AsyncFd::register(fd) }.ok()
    });
    match registered {
        Some(fd) => {
            let _ = fd.readable().await;
        }
        None => {
            // No pidfd support (old kernel): poll for the pid's existence instead.
            loop {
                // SAFETY: kill with signal 0 only checks for existence.
                if unsafe { libc::kill(pid as libc::pid_t, 0) } != 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

impl SandboxService {
    /// Watches the init process of a running sandbox.
    pub(crate) fn watch(&self, id: String, pid: u32) {
        let svc = self.clone();
        tokio::spawn(async move {
            exited(pid).await;
            let still_live = svc
                .inner
                .live
                .read()
                .map(|m| m.contains_key(&id))
                .unwrap_or(false);
            if !still_live {
                return; // a deliberate kill got there first
            }
            let runtime = svc.inner.runtime.clone();
            let cid = id.clone();
            let oom = tokio::task::spawn_blocking(move || runtime.stats(&cid).map(|s| s.oom_kills))
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or(0);
            let reason = if oom > 0 {
                "sandbox init was killed: out of memory".to_string()
            } else {
                "sandbox init process exited unexpectedly".to_string()
            };
            tracing::warn!(sandbox_id = %id, %reason, "sandbox died");
            svc.teardown(&id, SandboxState::Error, Some(reason)).await;
        });
    }
}
