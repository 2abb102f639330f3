//! The HTTP surface of Cove and its composition root: configuration, the axum router for `/v1`
//! and `/healthz`, API-key auth, the one error mapping of the native surface, and `serve`, which
//! picks the store and runtime implementations and wires them into `cove-core`.

mod auth;
mod config;
mod e2b;
mod error;
mod extract;
mod openapi;
mod proxy;
mod routes;
mod serve;
mod state;

pub use config::{ServeArgs, ServerConfig};
pub use serve::serve_command;
