//! cove-cli
fn main() {}
