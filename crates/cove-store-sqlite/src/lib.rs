//! cove-store-sqlite
