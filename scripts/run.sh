#!/usr/bin/env bash
# The run command: installs runtime dependencies, builds Cove (server, CLI and the static in-sandbox
# agent) and starts `cove serve` on its embedded default (SQLite + local runc sandboxes).
# Extra arguments go to `cove serve`, e.g. `scripts/run.sh --listen 127.0.0.1:9000 --data-dir /tmp/c`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --bins
bin="${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release"
exec "$bin/cove" serve "$@"
