//! The reaper kills sandboxes whose auto-kill deadline passed. It ticks four times a second, which
//! keeps kills within the promised ±1 s without a timer per sandbox.

use super::SandboxService;
use chrono::{DateTime, Utc};
use cove_types::SandboxState;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(250);

/// Ids whose deadline is at or before `now`.
pub(crate) fn due<'a>(
    now: DateTime<Utc>,
    deadlines: impl IntoIterator<Item = (&'a str, Option<DateTime<Utc>>)>,
) -> Vec<String> {
    deadlines
        .into_iter()
        .filter(|(_, end)| end.is_some_and(|e| e <= now))
        .map(|(id, _)| id.to_string())
        .collect()
}

pub(crate) fn spawn(svc: SandboxService) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let snapshot: Vec<(String, Option<DateTime<Utc>>)> = match svc.inner.live.read() {
                Ok(m) => m
                    .values()
                    .map(|l| (l.id.clone(), l.end_at.lock().ok().and_then(|e| *e)))
                    .collect(),
                Err(_) => continue,
            };
            let expired = due(Utc::now(), snapshot.iter().map(|(id, e)| (id.as_str(), *e)));
            for id in expired {
                let svc = svc.clone();
                tokio::spawn(async move {
                    tracing::info!(sandbox_id = %id, "timeout reached, killing sandbox");
                    svc.teardown(&id, SandboxState::Killed, None).await;
                    svc.inner
                        .events
                        .record(&id, "timeout", "auto-kill timeout reached");
                });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_picks_only_past_deadlines() {
        let now = Utc::now();
        let past = now - chrono::Duration::seconds(1);
        let future = now + chrono::Duration::seconds(1);
        let got = due(
            now,
            [
                ("a", Some(past)),
                ("b", Some(future)),
                ("c", None),
                ("d", Some(now)),
            ],
        );
        assert_eq!(got, vec!["a".to_string(), "d".to_string()]);
    }
}
