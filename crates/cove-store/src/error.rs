//! The store's error type. Drivers translate their own errors into it.

use thiserror::Error;

/// What went wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// No row matched.
    #[error("{entity} {key} not found")]
    NotFound {
        /// What was looked up ("sandbox", "template", "api key").
        entity: &'static str,
        /// The id or name used.
        key: String,
    },
    /// A uniqueness rule was violated.
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached or is locked beyond the timeout.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else (corrupt row, driver bug).
    #[error("store error: {0}")]
    Other(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;
