//! Cove's container runtime layer: turns a [`SandboxSpec`] into a running, isolated Linux
//! container whose PID 1 is the Cove agent, and tears it down again.
//!
//! The API is synchronous on purpose: every operation is a handful of syscalls plus at most one
//! short-lived `runc` process, and the async control plane calls it from `spawn_blocking`.
//! Containers are detached from the caller (re-parented away from it, own process group), so a
//! control-plane restart leaves them running; [`Runtime::list`], [`Runtime::state`] and
//! [`Runtime::socket_path`] are what it needs to reattach.
//!
//! The first (and so far only) backend is [`RuncRuntime`], which drives the `runc` binary.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod base;
mod cgroup;
mod disk;
mod error;
mod fsutil;
mod mounts;
mod runc;
mod spec;

use std::path::PathBuf;

pub use error::{RuntimeError, RuntimeResult};
pub use runc::{CreateTimings, RuncRuntime};

/// Where a runtime keeps its state and which `runc` it drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Root of everything this runtime owns (e.g. `<cove data dir>/runtime`). Two runtimes with
    /// different data dirs never see each other's containers or cgroups.
    pub data_dir: PathBuf,
    /// The `runc` binary; a bare name is looked up in `PATH`.
    pub runc_path: PathBuf,
}

impl RuntimeConfig {
    /// A config using `runc` from `PATH`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            runc_path: PathBuf::from("runc"),
        }
    }
}

/// The read-only part of a sandbox's root filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootfsSpec {
    /// Template layers, topmost first; they become the overlay's `lowerdir`s and are never written.
    pub lower_dirs: Vec<PathBuf>,
    /// Host directories bind-mounted read-only into the sandbox: `(host path, sandbox path)`.
    pub ro_binds: Vec<(PathBuf, PathBuf)>,
}

/// Which network a sandbox sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// Its own network namespace with only loopback (every user sandbox).
    #[default]
    Isolated,
    /// The host's network namespace. Only for template build steps, which must reach package
    /// mirrors and run nothing but the template author's own commands.
    Host,
}

/// Everything needed to create one sandbox container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Sandbox ID (`[a-z0-9]{20}`); also the container ID and the hostname.
    pub id: String,
    /// Template layers and host binds.
    pub rootfs: RootfsSpec,
    /// Host path of the agent binary, bind-mounted read-only at
    /// [`cove_types::layout::SANDBOX_AGENT_BIN`] and run as PID 1.
    pub agent_binary: PathBuf,
    /// Arguments after the agent binary.
    pub init_args: Vec<String>,
    /// `KEY=VALUE` environment of the init process (`PATH` is added when missing).
    pub init_env: Vec<String>,
    /// CPU, memory, disk and task limits.
    pub limits: cove_types::Limits,
    /// Network namespace choice.
    pub network: Network,
}

/// A freshly created, running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Host PID of the container's init (the agent).
    pub pid: u32,
    /// Host path of the agent's Unix socket (it may not exist yet: the agent creates it).
    pub socket_path: PathBuf,
}

/// What the runtime knows about a container right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// The init process is alive.
    Running {
        /// Host PID of the init process.
        pid: u32,
    },
    /// The container exists but its init is gone (or never started).
    Stopped,
    /// Nothing is known under this ID.
    Missing,
}

/// Resource usage of one container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Working-set memory: cgroup usage minus inactive page cache (what `docker stats` shows).
    pub memory_bytes: u64,
    /// Memory limit of the cgroup (`u64::MAX` when unlimited).
    pub memory_limit_bytes: u64,
    /// Total CPU time consumed, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Current number of tasks (processes and threads).
    pub pids: u64,
    /// Times the kernel OOM killer killed a process of the container.
    pub oom_kills: u64,
    /// Bytes used on the sandbox's writable layer.
    pub disk_used_bytes: u64,
    /// Size of the sandbox's writable layer.
    pub disk_total_bytes: u64,
}

/// A container backend. All methods are blocking; IDs are sandbox IDs.
pub trait Runtime: Send + Sync + 'static {
    /// Prepares dirs, rootfs and bundle, then creates and starts the container detached from the
    /// caller. Returns once the init process runs.
    fn create(&self, spec: &SandboxSpec) -> RuntimeResult<Created>;
    /// SIGKILLs every process of the container; `Ok` if it is already dead or unknown.
    fn kill(&self, id: &str) -> RuntimeResult<()>;
    /// Removes the container, its mounts, cgroups and directories. Idempotent.
    fn delete(&self, id: &str) -> RuntimeResult<()>;
    /// Current state, without spawning processes in the common case.
    fn state(&self, id: &str) -> RuntimeResult<ContainerState>;
    /// IDs of every container or sandbox directory this runtime knows, for reconciliation.
    fn list(&self) -> RuntimeResult<Vec<String>>;
    /// Resource usage read from the container's cgroups and writable layer.
    fn stats(&self, id: &str) -> RuntimeResult<Stats>;
    /// Host path of the agent socket; stable for the life of the sandbox.
    fn socket_path(&self, id: &str) -> PathBuf;
    /// Host path of the sandbox's writable overlay layer (overlay-native whiteouts), valid from
    /// `create` until `delete`. Template builds read it after `kill` to turn a step into a layer.
    fn writable_dir(&self, id: &str) -> PathBuf;
}
