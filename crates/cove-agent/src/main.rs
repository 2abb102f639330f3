//! cove-agent
fn main() {}
