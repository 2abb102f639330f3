//! cove-runtime
