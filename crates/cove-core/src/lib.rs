//! cove-core
