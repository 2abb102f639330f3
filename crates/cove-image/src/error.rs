//! `ImageError`: everything that can go wrong while importing, pulling, unpacking or building an
//! image. Variants say whether the caller's input was bad (`Invalid`, `Rejected`, `Digest`) or the
//! host failed (`Io`), so the control plane can pick the right code.

use std::path::PathBuf;
use thiserror::Error;

/// A failed image operation.
#[derive(Debug, Error)]
pub enum ImageError {
    /// The input is not a usable image (bad JSON, missing blob, unsupported media type, ...).
    #[error("invalid image: {0}")]
    Invalid(String),
    /// A layer tarball contains something Cove refuses to unpack (path traversal, device nodes,
    /// writes through symlinks).
    #[error("layer {layer} rejected: {reason}")]
    Rejected {
        /// Digest of the offending layer.
        layer: String,
        /// What was wrong, naming the entry.
        reason: String,
    },
    /// Content did not hash to the digest it was announced with.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    Digest {
        /// Which blob or layer.
        what: String,
        /// The announced digest.
        expected: String,
        /// What the content hashed to.
        actual: String,
    },
    /// A recipe or Dockerfile is malformed.
    #[error("invalid recipe: {0}")]
    Recipe(String),
    /// The registry refused or failed the request.
    #[error("registry: {0}")]
    Registry(String),
    /// A host filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An external tool (e.g. `mmdebstrap`) failed.
    #[error("{program} failed: {message}")]
    Command {
        /// The program.
        program: String,
        /// Its exit status and output tail.
        message: String,
    },
}

/// Result alias of this crate.
pub type ImageResult<T> = Result<T, ImageError>;

impl ImageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True when the failure is the input's fault rather than the host's.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, ImageError::Io { .. })
    }
}

/// Attaches an operation and path to `std::io` results.
pub(crate) trait IoContext<T> {
    fn at(self, op: &'static str, path: &std::path::Path) -> ImageResult<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, op: &'static str, path: &std::path::Path) -> ImageResult<T> {
        self.map_err(|e| ImageError::io(op, path, e))
    }
}
