//! The runtime's error type. Variants say which step failed so the control plane can tell a
//! caller mistake (bad ID, duplicate) from a host problem (runc, mounts, cgroups).

use std::path::PathBuf;

use thiserror::Error;

/// Result alias used throughout the crate.
pub type RuntimeResult<T> = Result<T, RuntimeError>;

/// Everything that can go wrong in the runtime.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The ID is not a well-formed sandbox ID (guards every path built from it).
    #[error("invalid sandbox id {0:?}")]
    InvalidId(String),
    /// A sandbox with this ID already has a directory.
    #[error("sandbox {0} already exists")]
    AlreadyExists(String),
    /// No sandbox with this ID.
    #[error("sandbox {0} not found")]
    NotFound(String),
    /// The configured `runc` cannot be run.
    #[error("runc at {path} is not usable: {reason}")]
    RuncUnavailable {
        /// Configured or resolved path.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// A `runc` subcommand failed.
    #[error("runc {op} {id} failed: {message}")]
    Runc {
        /// Subcommand.
        op: &'static str,
        /// Container ID.
        id: String,
        /// runc's own error output.
        message: String,
    },
    /// A helper program (mkfs.ext4, ...) failed.
    #[error("{program} failed: {message}")]
    Command {
        /// Program name.
        program: String,
        /// Its error output or exit status.
        message: String,
    },
    /// A filesystem or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path involved.
        context: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Building the OCI spec failed (a bug rather than a host problem).
    #[error("building OCI spec: {0}")]
    Spec(String),
    /// The host lacks something the runtime needs.
    #[error("unsupported host: {0}")]
    Unsupported(String),
}

impl RuntimeError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn sys(context: impl Into<String>, errno: nix::Error) -> Self {
        Self::io(context, std::io::Error::from(errno))
    }
}

/// Attaches a context string to I/O and errno results.
pub(crate) trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> RuntimeResult<T>;
}

impl<T> Context<T> for Result<T, std::io::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> RuntimeResult<T> {
        self.map_err(|e| RuntimeError::io(context(), e))
    }
}

impl<T> Context<T> for Result<T, nix::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> RuntimeResult<T> {
        self.map_err(|e| RuntimeError::sys(context(), e))
    }
}
