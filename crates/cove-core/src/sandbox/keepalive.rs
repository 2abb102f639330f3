//! Keep-alive: pushing a running sandbox's deadline later without ever pulling it earlier. E2B's
//! `connect` and `refreshes` have these semantics (a client that reconnects must not shorten a
//! timeout someone else set), unlike `set_timeout`, which replaces the deadline.

use super::{end_at_from, SandboxService};
use crate::error::CoreResult;
use cove_store::SandboxRecord;

impl SandboxService {
    /// Makes sure the sandbox is running and lives at least `secs` more seconds: its deadline
    /// becomes `max(deadline, now + secs)`. A sandbox without a deadline keeps none, and `secs == 0`
    /// only checks that it is running.
    pub async fn extend_timeout(&self, id_or_name: &str, secs: u64) -> CoreResult<SandboxRecord> {
        let mut rec = self.get(id_or_name).await?;
        let live = self.live(&rec)?;
        if secs == 0 {
            return Ok(rec);
        }
        let candidate = end_at_from(secs)?;
        // Decide under the lock the reaper reads, so a concurrent set_timeout or extension cannot
        // be overwritten by an older deadline.
        let changed = match live.end_at.lock() {
            Ok(mut current) => match (*current, candidate) {
                (Some(cur), Some(new)) if new > cur => {
                    *current = Some(new);
                    Some(Some(new))
                }
                _ => {
                    rec.end_at = *current;
                    None
                }
            },
            Err(_) => None,
        };
        if let Some(end_at) = changed {
            rec.end_at = end_at;
            rec.timeout_secs = secs;
            self.inner.store.update_sandbox(&rec).await?;
        }
        Ok(rec)
    }
}
