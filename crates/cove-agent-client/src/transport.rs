//! How bytes reach an agent.

use crate::error::{AgentError, AgentResult};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Request body type sent to agents.
pub type AgentBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Opens HTTP/1.1 exchanges with one sandbox's agent.
pub trait Transport: Send + Sync + 'static {
    /// Sends one request and returns the response head with its streaming body. The connection
    /// stays busy until that body has been read to its end (or dropped).
    fn send(
        &self,
        req: Request<AgentBody>,
    ) -> Pin<Box<dyn Future<Output = AgentResult<Response<Incoming>>> + Send + '_>>;
}

/// Keep-alive connections remembered per transport. Busy ones (a response body still streaming)
/// count too, so a sandbox with many long streams cannot pile up sockets here; exchanges beyond
/// this use a connection that closes once they are done.
const MAX_POOLED: usize = 8;

/// The agent's Unix socket, bind-mounted out of the sandbox onto the host.
///
/// Connections are kept alive and reused: a fresh connect + HTTP handshake per call was the
/// largest part of an exec's round trip. Clones share the pool.
#[derive(Debug, Clone)]
pub struct UnixTransport {
    path: PathBuf,
    pooled: Arc<Mutex<Vec<SendRequest<AgentBody>>>>,
}

impl UnixTransport {
    /// A transport to the socket at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            pooled: Arc::default(),
        }
    }

    /// An idle pooled connection, forgetting closed ones on the way. Busy ones stay pooled: they
    /// become idle once their response body is consumed.
    fn take_idle(&self) -> Option<SendRequest<AgentBody>> {
        // A poisoned pool only holds connections; starting over with fresh ones is always safe.
        let mut pooled = self.pooled.lock().unwrap_or_else(|p| {
            let mut g = p.into_inner();
            g.clear();
            g
        });
        pooled.retain(|s| !s.is_closed());
        let i = pooled.iter().position(|s| s.is_ready())?;
        Some(pooled.swap_remove(i))
    }

    fn put_back(&self, sender: SendRequest<AgentBody>) {
        if let Ok(mut pooled) = self.pooled.lock() {
            if pooled.len() < MAX_POOLED {
                pooled.push(sender);
            }
        }
    }

    async fn connect(&self) -> AgentResult<SendRequest<AgentBody>> {
        let stream = tokio::net::UnixStream::connect(&self.path)
            .await
            .map_err(|e| AgentError::Unreachable(format!("{}: {e}", self.path.display())))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| AgentError::Unreachable(e.to_string()))?;
        // `with_upgrades` keeps the socket usable after a `101` (port tunnels); for ordinary
        // exchanges it behaves like the plain connection future.
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "agent connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// An upgrade turns the connection into a raw byte stream that is never HTTP again.
fn is_upgrade(req: &Request<AgentBody>) -> bool {
    req.headers().contains_key(http::header::UPGRADE)
}

impl Transport for UnixTransport {
    fn send(
        &self,
        req: Request<AgentBody>,
    ) -> Pin<Box<dyn Future<Output = AgentResult<Response<Incoming>>> + Send + '_>> {
        Box::pin(async move {
            if is_upgrade(&req) {
                let mut sender = self.connect().await?;
                return sender
                    .send_request(req)
                    .await
                    .map_err(|e| AgentError::Broken(e.to_string()));
            }
            let mut req = req;
            if let Some(mut sender) = self.take_idle() {
                match sender.try_send_request(req).await {
                    Ok(resp) => {
                        self.put_back(sender);
                        return Ok(resp);
                    }
                    Err(mut e) => match e.take_message() {
                        // The agent closed the idle connection before the request went out:
                        // nothing happened in the sandbox, so a fresh connection may carry it.
                        Some(unsent) => req = unsent,
                        // It was (maybe partly) sent: retrying could run a command twice.
                        None => return Err(AgentError::Broken(e.into_error().to_string())),
                    },
                }
            }
            let mut sender = self.connect().await?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| AgentError::Broken(e.to_string()))?;
            self.put_back(sender);
            Ok(resp)
        })
    }
}
