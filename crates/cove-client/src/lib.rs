//! cove-client
