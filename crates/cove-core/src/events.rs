//! Lifecycle events are written by one background task, in order, so that recording them never
//! sits on the latency path of a create or an exec.

use cove_store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One event to persist.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) sandbox_id: String,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

/// Sender side of the event writer.
#[derive(Clone, Debug)]
pub(crate) struct EventLog {
    tx: mpsc::UnboundedSender<Event>,
}

impl EventLog {
    /// Starts the writer task.
    pub(crate) fn start(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let Err(e) = store
                    .append_event(&ev.sandbox_id, ev.kind, &ev.message)
                    .await
                {
                    tracing::warn!(sandbox_id = %ev.sandbox_id, error = %e, "cannot record event");
                }
            }
        });
        Self { tx }
    }

    /// Queues an event.
    pub(crate) fn record(&self, sandbox_id: &str, kind: &'static str, message: impl Into<String>) {
        let _ = self.tx.send(Event {
            sandbox_id: sandbox_id.to_string(),
            kind,
            message: message.into(),
        });
    }
}
