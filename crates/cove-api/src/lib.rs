//! cove-api
