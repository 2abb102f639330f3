#!/usr/bin/env bash
# Installs test-only packages on the host. The `base` template reuses the host's /usr read-only, so
# whatever is installed here is what the integration tests find inside sandboxes: ipykernel for the
# code interpreter, matplotlib and numpy for its chart test. Idempotent and quiet when present.
set -euo pipefail
need=()
# The host's /usr/bin/python3, not one earlier on PATH (pyenv): sandboxes see only /usr.
have_py_module() { /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }
have_py_module ipykernel || need+=(python3-ipykernel)
have_py_module matplotlib || need+=(python3-matplotlib)
have_py_module numpy || need+=(python3-numpy)
# Template tests: a local OCI registry to pull from and skopeo to push to it.
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "cove: tests need: ${need[*]} (install as root)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
