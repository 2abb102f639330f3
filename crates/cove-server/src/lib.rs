//! cove-server
