#!/usr/bin/env bash
# The test command: installs runtime dependencies, then runs every test of the workspace. The
# integration tests start the real `cove serve` and need root (namespaces, cgroups, mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/test-deps.sh
# `cargo test` builds only the binaries of packages with integration tests; the server needs the
# agent binary beside it, so build every binary first.
cargo build --workspace --bins
cargo test --workspace "$@"
# E2B conformance with the official E2B SDKs (Python and JS) against the binary built above.
bash tests/e2b/run.sh
