#!/usr/bin/env bash
# Installs what Cove needs at run time on a Debian/Ubuntu host: an OCI runtime (runc), e2fsprogs
# (mkfs.ext4 for per-sandbox disk images) and python3/bash for the default `base` template, which
# reuses the host's /usr read-only. Idempotent and quiet when everything is present.
set -euo pipefail
need=()
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
[ -x /usr/bin/python3 ] || need+=(python3)
[ -x /bin/bash ] || need+=(bash)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "cove: please install: ${need[*]} (as root)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
