//! Server-sent event streams shared by the streaming endpoints (exec, code execution): each
//! source yields named JSON events until a terminal one.

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;

/// Something that produces SSE events.
pub(crate) trait SseSource: Send + 'static {
    /// The next event name and JSON payload.
    fn next_event(&mut self) -> impl Future<Output = (&'static str, serde_json::Value)> + Send;
    /// Whether an event with this name ends the stream.
    fn is_last(name: &str) -> bool;
}

/// Streams `source` as `text/event-stream`, with keep-alive comments while it is quiet.
pub(crate) fn sse<S: SseSource>(source: S) -> Response {
    let events = futures_util::stream::unfold(Some(source), |state| async move {
        let mut source = state?;
        let (name, data) = source.next_event().await;
        let last = S::is_last(name);
        let event = Event::default().event(name).data(data.to_string());
        Some((
            Ok::<_, Infallible>(event),
            if last { None } else { Some(source) },
        ))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
