//! End-to-end tests: each starts the real `cove serve` (built by cargo beside this test) on a free
//! loopback port with its own data dir, and drives it over HTTP exactly like a user would. They need
//! root and `runc` (CI runs as root and installs runc); without them they skip loudly.

mod auth;
mod bad_input;
mod cli;
mod code;
mod e2b_rest;
mod exec;
mod files;
mod harness;
mod isolation;
mod lifecycle;
mod pools;
mod processes;
mod proxy;
mod restart;
mod templates;
