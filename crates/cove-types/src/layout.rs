//! Where Cove puts its own files inside every sandbox. The runtime bind-mounts them there and the
//! agent and control plane agree on them through these constants.

/// Directory inside the sandbox that holds Cove's agent binary and socket.
pub const SANDBOX_COVE_DIR: &str = "/.cove";
/// Path of the agent binary inside the sandbox (a read-only bind mount of the host's static binary).
pub const SANDBOX_AGENT_BIN: &str = "/.cove/bin/cove-agent";
/// Directory inside the sandbox where the agent listens (a bind mount of a per-sandbox host dir).
pub const SANDBOX_AGENT_SOCKET_DIR: &str = "/.cove/run";
/// File name of the agent's Unix socket inside [`SANDBOX_AGENT_SOCKET_DIR`].
pub const AGENT_SOCKET_NAME: &str = "agent.sock";
/// Default user of a sandbox (E2B convention).
pub const DEFAULT_USER: &str = "user";
/// Default working directory and home of [`DEFAULT_USER`].
pub const DEFAULT_WORKDIR: &str = "/home/user";
