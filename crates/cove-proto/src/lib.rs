//! cove-proto
