//! Typed calls to one agent.

use crate::error::{AgentError, AgentResult};
use crate::transport::{AgentBody, Transport};
use base64::Engine;
use bytes::Bytes;
use cove_proto::envelope::{encode_message, EnvelopeDecoder};
use cove_proto::process::{ProcessEvent, StartRequest, StartResponse};
use cove_proto::{ConnectError, EndStream, CONNECT_JSON, JSON};
use futures_util::{Stream, StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Body of the agent's `POST /init`: per-sandbox settings applied right after boot.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitRequest {
    /// Global env of every process.
    pub env_vars: BTreeMap<String, String>,
    /// Token the agent requires in `X-Access-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// User for requests that name none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_user: Option<String>,
    /// Base of relative paths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_workdir: Option<String>,
}

/// One entry of the agent's `POST /files` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadedEntry {
    /// Absolute path written.
    pub path: String,
}

/// A client bound to one sandbox's agent.
#[derive(Clone)]
pub struct AgentClient {
    transport: Arc<dyn Transport>,
    token: Option<String>,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never print it.
        f.debug_struct("AgentClient").finish_non_exhaustive()
    }
}

fn full(bytes: impl Into<Bytes>) -> AgentBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty() -> AgentBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn basic_user(user: &str) -> String {
    let raw = format!("{user}:");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn read_body(resp: Response<Incoming>, limit: usize) -> AgentResult<Bytes> {
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| AgentError::Unreachable(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(AgentError::Protocol(format!(
                    "agent response larger than {limit} bytes"
                )));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

/// Turns a non-success response into an error, reading its JSON body (Connect or envd shape).
async fn error_from(resp: Response<Incoming>) -> AgentError {
    let status = resp.status().as_u16();
    let body = match read_body(resp, 64 * 1024).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Ok(err) = serde_json::from_slice::<ConnectError>(&body) {
        if !err.code.is_empty() && err.code.parse::<cove_proto::Code>().is_ok() {
            return AgentError::Rpc(err);
        }
    }
    #[derive(Deserialize)]
    struct HttpErr {
        message: String,
    }
    let message = serde_json::from_slice::<HttpErr>(&body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
    AgentError::Http { status, message }
}

/// How long to wait for the end of a body after its last message: the agent closes the stream
/// right after the end-stream envelope, so this only matters if it misbehaves.
const BODY_END_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Reads a body to its end so its keep-alive connection can carry the next exchange (a body
/// dropped before its end closes the connection instead).
async fn finish_body(body: &mut Incoming) {
    let _ = tokio::time::timeout(BODY_END_WAIT, async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
}

/// Server-streamed process events of `Start`/`Connect`.
pub struct EventStream {
    body: Incoming,
    decoder: EnvelopeDecoder,
    done: bool,
}

impl EventStream {
    /// The next event; `None` once the end-stream envelope (success) arrived. A stream error in the
    /// end-stream envelope is returned as `Some(Err(..))`, then `None`.
    pub async fn next(&mut self) -> Option<AgentResult<ProcessEvent>> {
        loop {
            if self.done {
                return None;
            }
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    if frame.is_end_stream() {
                        self.done = true;
                        finish_body(&mut self.body).await;
                        let end: EndStream =
                            serde_json::from_slice(&frame.payload).unwrap_or_default();
                        return end.error.map(|e| Err(AgentError::Rpc(e)));
                    }
                    let msg: Result<StartResponse, _> = serde_json::from_slice(&frame.payload);
                    match msg {
                        Ok(StartResponse { event: Some(ev) }) => return Some(Ok(ev)),
                        Ok(StartResponse { event: None }) => continue,
                        Err(e) => {
                            self.done = true;
                            return Some(Err(AgentError::Protocol(format!("bad event: {e}"))));
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(AgentError::Protocol(e.to_string())));
                }
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.push(&data);
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(AgentError::Unreachable(e.to_string())));
                }
                None => {
                    self.done = true;
                    return Some(Err(AgentError::Protocol(
                        "stream ended without an end-stream message".into(),
                    )));
                }
            }
        }
    }
}

/// A streamed file body from the agent.
pub struct ByteStream {
    /// `Content-Length` if the agent sent one.
    pub content_length: Option<u64>,
    body: Incoming,
}

impl ByteStream {
    /// The body as a stream of chunks.
    pub fn into_stream(self) -> impl Stream<Item = AgentResult<Bytes>> + Send + 'static {
        futures_util::stream::unfold(self.body, |mut body| async move {
            loop {
                match body.frame().await {
                    None => return None,
                    Some(Err(e)) => {
                        return Some((Err(AgentError::Unreachable(e.to_string())), body))
                    }
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Some((Ok(data), body));
                        }
                    }
                }
            }
        })
    }

    /// Reads the whole body, failing when it exceeds `limit` bytes.
    pub async fn collect(self, limit: usize) -> AgentResult<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = Box::pin(self.into_stream());
        while let Some(chunk) = s.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Err(AgentError::Protocol(format!(
                    "file larger than {limit} bytes"
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// `Upgrade` token of the agent's port tunnel.
const TUNNEL_PROTOCOL: &str = "cove-tcp";

/// A byte stream to a TCP port inside a sandbox (see [`AgentClient::open_tunnel`]).
pub struct Tunnel {
    io: TokioIo<hyper::upgrade::Upgraded>,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel").finish_non_exhaustive()
    }
}

impl AsyncRead for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl AgentClient {
    /// A client over `transport`, sending `token` as `X-Access-Token` when set.
    pub fn new(transport: Arc<dyn Transport>, token: Option<String>) -> Self {
        Self { transport, token }
    }

    fn request(&self, method: Method, uri: &str, user: Option<&str>) -> http::request::Builder {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::HOST, "agent");
        if let Some(t) = &self.token {
            b = b.header("X-Access-Token", t);
        }
        if let Some(u) = user {
            b = b.header(http::header::AUTHORIZATION, basic_user(u));
        }
        b
    }

    async fn send(&self, req: Request<AgentBody>) -> AgentResult<Response<Incoming>> {
        self.transport.send(req).await
    }

    fn build(b: http::request::Builder, body: AgentBody) -> AgentResult<Request<AgentBody>> {
        b.body(body)
            .map_err(|e| AgentError::Protocol(format!("cannot build request: {e}")))
    }

    /// Sends an arbitrary request to the agent (used by proxies that forward envd traffic as is).
    /// The access token is added unless the request already carries one.
    pub async fn send_raw(&self, mut req: Request<AgentBody>) -> AgentResult<Response<Incoming>> {
        if let Some(t) = &self.token {
            if !req.headers().contains_key("x-access-token") {
                if let Ok(v) = http::HeaderValue::from_str(t) {
                    req.headers_mut().insert("x-access-token", v);
                }
            }
        }
        self.send(req).await
    }

    /// Sends a client's request to the agent exactly as given: unlike [`AgentClient::send_raw`] it
    /// never adds the sandbox's access token, so the agent authenticates what the client sent. This
    /// is what a proxy for untrusted callers must use.
    pub async fn forward(&self, req: Request<AgentBody>) -> AgentResult<Response<Incoming>> {
        self.send(req).await
    }

    /// Opens a raw TCP tunnel to `localhost:port` inside the sandbox (`GET /_cove/tunnel`, upgraded
    /// to `cove-tcp`). The control plane authenticates with the sandbox's own token: the caller is
    /// trusted to have decided that the traffic may reach the port. When nothing listens on the
    /// port the agent answers 502, returned as `AgentError::Http { status: 502, .. }`.
    pub async fn open_tunnel(&self, port: u16) -> AgentResult<Tunnel> {
        let b = self
            .request(Method::GET, &format!("/_cove/tunnel?port={port}"), None)
            .header(http::header::CONNECTION, "upgrade")
            .header(http::header::UPGRADE, TUNNEL_PROTOCOL);
        let mut resp = self.send(Self::build(b, empty())?).await?;
        if resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(error_from(resp).await);
        }
        let upgraded = hyper::upgrade::on(&mut resp)
            .await
            .map_err(|e| AgentError::Unreachable(format!("tunnel upgrade: {e}")))?;
        Ok(Tunnel {
            io: TokioIo::new(upgraded),
        })
    }

    /// `GET /health`: Ok when the agent answers 2xx.
    pub async fn health(&self) -> AgentResult<()> {
        let req = Self::build(self.request(Method::GET, "/health", None), empty())?;
        let mut resp = self.send(req).await?;
        if resp.status().is_success() {
            finish_body(resp.body_mut()).await;
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }

    /// `POST /init`.
    pub async fn init(&self, init: &InitRequest) -> AgentResult<()> {
        let body = serde_json::to_vec(init).map_err(|e| AgentError::Protocol(e.to_string()))?;
        let b = self
            .request(Method::POST, "/init", None)
            .header(http::header::CONTENT_TYPE, JSON);
        let mut resp = self.send(Self::build(b, full(body))?).await?;
        if resp.status().is_success() {
            finish_body(resp.body_mut()).await;
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }

    /// A unary Connect call, e.g. `("filesystem.Filesystem/Stat", &StatRequest{..})`.
    pub async fn unary<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: &str,
        req: &Req,
        user: Option<&str>,
    ) -> AgentResult<Resp> {
        let body = serde_json::to_vec(req).map_err(|e| AgentError::Protocol(e.to_string()))?;
        let b = self
            .request(Method::POST, &format!("/{method}"), user)
            .header(http::header::CONTENT_TYPE, JSON);
        let resp = self.send(Self::build(b, full(body))?).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let bytes = read_body(resp, 64 * 1024 * 1024).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AgentError::Protocol(format!("bad {method} response: {e}")))
    }

    /// `process.Process/Start`: returns the event stream. `timeout_ms` becomes `Connect-Timeout-Ms`,
    /// which the agent also enforces as the process's lifetime.
    pub async fn start(
        &self,
        req: &StartRequest,
        user: Option<&str>,
        timeout_ms: Option<u64>,
    ) -> AgentResult<EventStream> {
        self.server_stream("process.Process/Start", req, user, timeout_ms)
            .await
    }

    /// A server-streaming Connect call returning process events (`Start`, `Connect`).
    pub async fn server_stream<Req: Serialize>(
        &self,
        method: &str,
        req: &Req,
        user: Option<&str>,
        timeout_ms: Option<u64>,
    ) -> AgentResult<EventStream> {
        let env = encode_message(req).map_err(|e| AgentError::Protocol(e.to_string()))?;
        let mut b = self
            .request(Method::POST, &format!("/{method}"), user)
            .header(http::header::CONTENT_TYPE, CONNECT_JSON);
        if let Some(t) = timeout_ms {
            b = b.header("Connect-Timeout-Ms", t.to_string());
        }
        let resp = self.send(Self::build(b, full(env))?).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        Ok(EventStream {
            body: resp.into_body(),
            decoder: EnvelopeDecoder::new(),
            done: false,
        })
    }

    /// `GET /files?path=`: the file's bytes, streamed.
    pub async fn download(&self, path: &str, user: Option<&str>) -> AgentResult<ByteStream> {
        let mut uri = format!("/files?path={}", encode_query(path));
        if let Some(u) = user {
            uri.push_str(&format!("&username={}", encode_query(u)));
        }
        let resp = self
            .send(Self::build(self.request(Method::GET, &uri, None), empty())?)
            .await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let content_length = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok(ByteStream {
            content_length,
            body: resp.into_body(),
        })
    }

    /// `POST /files?path=` with an octet-stream body streamed from `body`; returns the absolute path
    /// written.
    pub async fn upload<S>(&self, path: &str, user: Option<&str>, body: S) -> AgentResult<String>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let mut uri = format!("/files?path={}", encode_query(path));
        if let Some(u) = user {
            uri.push_str(&format!("&username={}", encode_query(u)));
        }
        let b = self
            .request(Method::POST, &uri, None)
            .header(http::header::CONTENT_TYPE, "application/octet-stream");
        let body = StreamBody::new(body.map_ok(Frame::data)).boxed_unsync();
        let resp = self.send(Self::build(b, body)?).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let bytes = read_body(resp, 1024 * 1024).await?;
        let entries: Vec<UploadedEntry> = serde_json::from_slice(&bytes)
            .map_err(|e| AgentError::Protocol(format!("bad upload response: {e}")))?;
        entries
            .into_iter()
            .next()
            .map(|e| e.path)
            .ok_or_else(|| AgentError::Protocol("empty upload response".into()))
    }

    /// `GET /envs`.
    pub async fn envs(&self) -> AgentResult<BTreeMap<String, String>> {
        let resp = self
            .send(Self::build(
                self.request(Method::GET, "/envs", None),
                empty(),
            )?)
            .await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let bytes = read_body(resp, 1024 * 1024).await?;
        serde_json::from_slice(&bytes).map_err(|e| AgentError::Protocol(e.to_string()))
    }

    /// `POST /code/execute`: runs code in a Jupyter kernel context, streaming its output. Errors
    /// found before the execution starts (unknown context, no kernel) come back as `Http` errors.
    pub async fn code_execute(
        &self,
        req: &crate::code::CodeExecuteRequest,
    ) -> AgentResult<crate::code::CodeEventStream> {
        let body = serde_json::to_vec(req).map_err(|e| AgentError::Protocol(e.to_string()))?;
        let b = self
            .request(Method::POST, "/code/execute", None)
            .header(http::header::CONTENT_TYPE, JSON);
        let resp = self.send(Self::build(b, full(body))?).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        Ok(crate::code::CodeEventStream::new(resp.into_body()))
    }

    /// `GET /code/contexts`.
    pub async fn code_contexts(&self) -> AgentResult<Vec<crate::code::CodeContext>> {
        self.code_json(Method::GET, "/code/contexts", None).await
    }

    /// `POST /code/contexts`: creates a context and starts its kernel.
    pub async fn code_create_context(
        &self,
        language: Option<&str>,
        cwd: Option<&str>,
    ) -> AgentResult<crate::code::CodeContext> {
        let body = serde_json::json!({"language": language, "cwd": cwd});
        self.code_json(Method::POST, "/code/contexts", Some(body))
            .await
    }

    /// `POST /code/contexts/{id}/restart`.
    pub async fn code_restart_context(&self, id: &str) -> AgentResult<()> {
        let uri = format!("/code/contexts/{}/restart", encode_query(id));
        self.code_no_content(Method::POST, &uri).await
    }

    /// `DELETE /code/contexts/{id}`.
    pub async fn code_delete_context(&self, id: &str) -> AgentResult<()> {
        let uri = format!("/code/contexts/{}", encode_query(id));
        self.code_no_content(Method::DELETE, &uri).await
    }

    /// `GET /code/languages`: the kernels installed in the sandbox.
    pub async fn code_languages(&self) -> AgentResult<Vec<crate::code::CodeLanguage>> {
        self.code_json(Method::GET, "/code/languages", None).await
    }

    async fn code_json<T: DeserializeOwned>(
        &self,
        method: Method,
        uri: &str,
        body: Option<serde_json::Value>,
    ) -> AgentResult<T> {
        let b = self
            .request(method, uri, None)
            .header(http::header::CONTENT_TYPE, JSON);
        let body = match body {
            Some(v) => {
                full(serde_json::to_vec(&v).map_err(|e| AgentError::Protocol(e.to_string()))?)
            }
            None => empty(),
        };
        let resp = self.send(Self::build(b, body)?).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let bytes = read_body(resp, 16 * 1024 * 1024).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AgentError::Protocol(format!("bad {uri} response: {e}")))
    }

    async fn code_no_content(&self, method: Method, uri: &str) -> AgentResult<()> {
        let mut resp = self
            .send(Self::build(self.request(method, uri, None), empty())?)
            .await?;
        if resp.status().is_success() {
            finish_body(resp.body_mut()).await;
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding() {
        assert_eq!(
            encode_query("/home/user/a b.txt"),
            "%2Fhome%2Fuser%2Fa%20b.txt"
        );
        assert_eq!(encode_query("x&y=z"), "x%26y%3Dz");
    }

    #[test]
    fn basic_header() {
        assert_eq!(basic_user("root"), "Basic cm9vdDo=");
    }
}
