//! Connect protocol plumbing over axum: reading (possibly chunked) request bodies, unary JSON
//! responses, and server-streaming responses backed by a bounded channel so every envelope is
//! flushed as soon as it is produced and a slow client applies back-pressure instead of growing
//! memory.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cove_proto::envelope::{self, EnvelopeDecoder};
use cove_proto::{Code, ConnectError};
use http_body::Frame;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::error::RpcError;

/// Largest unary request body; real requests are tiny, SendInput chunks are the biggest.
pub const MAX_UNARY_BODY: usize = 32 * 1024 * 1024;

/// A response body fed by a channel; ends when every sender is dropped.
pub struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, io::Error>>,
}

impl ChannelBody {
    pub fn new(capacity: usize) -> (mpsc::Sender<Result<Bytes, io::Error>>, Self) {
        let (tx, rx) = mpsc::channel(capacity);
        (tx, ChannelBody { rx })
    }
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

/// Reads a whole request body, refusing more than `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, ConnectError> {
    let mut body = body;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ConnectError::new(Code::InvalidArgument, format!("reading request: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(ConnectError::new(
                    Code::ResourceExhausted,
                    "request body too large",
                ));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConnectError> {
    // Connect clients may send an empty body for an empty message.
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ConnectError::new(Code::InvalidArgument, format!("invalid request: {e}")))
}

/// Reads and parses the single enveloped message of a server-streaming request.
pub async fn read_stream_request<T: DeserializeOwned>(body: Body) -> Result<T, ConnectError> {
    let bytes = read_body(body, MAX_UNARY_BODY).await?;
    let mut dec = EnvelopeDecoder::new();
    dec.push(&bytes);
    match dec.next_frame() {
        Ok(Some(frame)) => parse_json(&frame.payload),
        Ok(None) => Err(ConnectError::new(
            Code::InvalidArgument,
            "missing request envelope",
        )),
        Err(e) => Err(ConnectError::new(Code::InvalidArgument, e.to_string())),
    }
}

/// JSON response of a successful unary call.
pub fn unary_ok<T: Serialize>(msg: &T) -> Response {
    match serde_json::to_vec(msg) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, cove_proto::JSON)],
            body,
        )
            .into_response(),
        Err(e) => RpcError(crate::error::internal(e)).into_response(),
    }
}

pub fn unary<T: Serialize>(result: Result<T, ConnectError>) -> Response {
    match result {
        Ok(msg) => unary_ok(&msg),
        Err(e) => RpcError(e).into_response(),
    }
}

/// Writing side of a server-streaming response.
pub struct StreamSender {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
}

impl StreamSender {
    /// Sends one message; false once the client has gone away.
    pub async fn send<T: Serialize>(&self, msg: &T) -> bool {
        match envelope::encode_message(msg) {
            Ok(frame) => self.tx.send(Ok(Bytes::from(frame))).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Ends the stream with the end-stream envelope; always call it, connect-es fails without it.
    pub async fn finish(self, error: Option<ConnectError>) {
        let frame = match error {
            Some(e) => envelope::end_stream_error(&e),
            None => envelope::end_stream_ok(),
        };
        let _ = self.tx.send(Ok(Bytes::from(frame))).await;
    }

    /// Resolves when the client has dropped the response.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

/// A streaming response and the sender feeding it.
pub fn stream_response() -> (StreamSender, Response) {
    let (tx, body) = ChannelBody::new(16);
    let resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, cove_proto::CONNECT_JSON)],
        Body::new(body),
    )
        .into_response();
    (StreamSender { tx }, resp)
}

/// A stream that fails before producing anything: errors still travel in the end-stream envelope
/// with HTTP 200, which is what both SDKs handle best.
pub fn stream_error(err: ConnectError) -> Response {
    let frame = envelope::end_stream_error(&err);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, cove_proto::CONNECT_JSON)],
        frame,
    )
        .into_response()
}

/// `Keepalive-Ping-Interval` in seconds (default 90).
pub fn keepalive_interval(headers: &HeaderMap) -> Duration {
    let secs = headers
        .get("keepalive-ping-interval")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(90);
    Duration::from_secs(secs)
}

/// `Connect-Timeout-Ms`; 0 or absent means no deadline.
pub fn connect_timeout(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("connect-timeout-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// Username from `Authorization: Basic base64("<user>:")`; `Ok(None)` when absent.
pub fn basic_auth_user(headers: &HeaderMap) -> Result<Option<String>, ConnectError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || ConnectError::new(Code::Unauthenticated, "invalid authorization header");
    let value = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(bad());
    };
    let decoded = cove_proto::b64::decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let user = text.split(':').next().unwrap_or_default().to_string();
    Ok(if user.is_empty() { None } else { Some(user) })
}
