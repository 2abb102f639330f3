//! cove-store
