//! How bytes reach an agent.

use crate::error::{AgentError, AgentResult};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// Request body type sent to agents.
pub type AgentBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Opens HTTP/1.1 exchanges with one sandbox's agent.
pub trait Transport: Send + Sync + 'static {
    /// Sends one request on a fresh connection and returns the response head with its streaming body.
    fn send(
        &self,
        req: Request<AgentBody>,
    ) -> Pin<Box<dyn Future<Output = AgentResult<Response<Incoming>>> + Send + '_>>;
}

/// The agent's Unix socket, bind-mounted out of the sandbox onto the host.
#[derive(Debug, Clone)]
pub struct UnixTransport {
    path: PathBuf,
}

impl UnixTransport {
    /// A transport to the socket at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl Transport for UnixTransport {
    fn send(
        &self,
        req: Request<AgentBody>,
    ) -> Pin<Box<dyn Future<Output = AgentResult<Response<Incoming>>> + Send + '_>> {
        Box::pin(async move {
            // One connection per exchange: connecting a Unix socket costs microseconds, and it keeps
            // long-lived streams (process output, watches) from blocking other calls.
            let stream = tokio::net::UnixStream::connect(&self.path)
                .await
                .map_err(|e| AgentError::Unreachable(format!("{}: {e}", self.path.display())))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| AgentError::Unreachable(e.to_string()))?;
            // `with_upgrades` keeps the socket usable after a `101` (port tunnels); for ordinary
            // exchanges it behaves like the plain connection future.
            tokio::spawn(async move {
                if let Err(e) = conn.with_upgrades().await {
                    tracing::debug!(error = %e, "agent connection ended with an error");
                }
            });
            sender
                .send_request(req)
                .await
                .map_err(|e| AgentError::Unreachable(e.to_string()))
        })
    }
}
