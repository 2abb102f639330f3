#!/usr/bin/env bash
# E2B conformance: drives a real `cove serve` with the official, unmodified E2B SDKs (Python and JS,
# pinned versions) over its E2B surface (`/e2b/v1` REST API plus sandbox-traffic routing on the same
# listener), and with the official code-interpreter SDKs (`e2b-code-interpreter`,
# `@e2b/code-interpreter`) over the code-interpreter protocol (port 49999, served by the agent).
# Builds nothing: it takes the `cove` binary cargo built (scripts/test.sh runs the cargo tests
# first). Needs root and runc like the integration tests.
#
#   bash tests/e2b/run.sh                 # every suite
#   E2B_SUITES="py-2.63.0 js" bash ...    # a subset (py-<version>, py-ci-<version>, js, js-ci)
#   PYTEST_ARGS="-k files" bash ...       # extra pytest arguments (e.g. one test)
#   NODE_TEST_ARGS="--test-name-pattern=pty" bash ...
#
# SDK environments are cached under ${COVE_TEST_CACHE:-$HOME/.cache/cove-test} (one venv per Python
# SDK version, rebuilt when its requirements file changes) and tests/e2b/js/node_modules (npm ci,
# rerun when package-lock.json changes). Exits non-zero if any suite fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/e2b

# Python suites: E2B_SUITES name, summary label, SDK version, requirements file, test directory.
#  - py-2.63.0: the current `e2b` SDK, full suite.
#  - py-2.20.0: an older `e2b` SDK for the routing fallbacks (see python/requirements-2.20.txt).
#  - py-ci-2.11.5: the `e2b-code-interpreter` SDK (its Sandbox defaults to template
#    code-interpreter-v1, created below from `base`).
py_suites=(
  "py-2.63.0 e2b-python 2.63.0 python/requirements-2.63.txt python/full"
  "py-2.20.0 e2b-python 2.20.0 python/requirements-2.20.txt python/smoke"
  "py-ci-2.11.5 e2b-code-interpreter-python 2.11.5 python/requirements-code-interpreter-2.11.txt python/code_interpreter"
)
# JS suites share tests/e2b/js/node_modules (one package.json): `js` runs js/*.test.mjs with `e2b`,
# `js-ci` runs js/code-interpreter/*.test.mjs with `@e2b/code-interpreter`.
js_version=$(sed -n 's/.*"e2b": *"\([^"]*\)".*/\1/p' "$here/js/package.json")
js_ci_version=$(sed -n 's/.*"@e2b\/code-interpreter": *"\([^"]*\)".*/\1/p' "$here/js/package.json")
suites=${E2B_SUITES:-"$(for s in "${py_suites[@]}"; do printf '%s ' "${s%% *}"; done)js js-ci"}

target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$root/$target ;; esac
cove=$target/x86_64-unknown-linux-gnu/debug/cove
if [ ! -x "$cove" ]; then
  echo "e2b: cove binary not found at $cove; build it first (cargo build, or scripts/test.sh)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "e2b: needs root (sandboxes use namespaces, cgroups and mounts)" >&2
  exit 1
fi

cache=${COVE_TEST_CACHE:-$HOME/.cache/cove-test}
mkdir -p "$cache"
work=$(mktemp -d /tmp/cove-e2b.XXXXXX)
data=$work/data
results=$work/results
mkdir -p "$data" "$results"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
key=e2b_$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
server_pid=
log_shown=

# Deletes every sandbox the server still knows (the tests clean up after themselves; this catches
# whatever a crashed test left behind), then stops the server and removes the data dir.
cleanup() {
  local rc=$?
  set +e
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    python3 - "$url" "$key" <<'EOF'
import json, sys, urllib.request
url, key = sys.argv[1], sys.argv[2]
def call(method, path):
    req = urllib.request.Request(url + path, method=method, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        return json.loads(body) if body else None
try:
    cursor, ids = None, []
    while True:
        page = call("GET", "/v1/sandboxes?status=booting,running&limit=100" + (f"&cursor={cursor}" if cursor else ""))
        ids += [s["id"] for s in page["items"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    for i in ids:
        call("DELETE", f"/v1/sandboxes/{i}")
    if ids:
        print(f"e2b: deleted {len(ids)} leftover sandbox(es)", file=sys.stderr)
except Exception as e:
    print(f"e2b: cleanup of leftover sandboxes failed: {e}", file=sys.stderr)
EOF
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ "$rc" -ne 0 ] && [ -z "$log_shown" ] && [ -f "$work/server.log" ]; then
    echo "e2b: last lines of the server log ($work/server.log):" >&2
    tail -n 40 "$work/server.log" >&2
  fi
  # Never cross into a mount a sandbox may have left behind.
  if grep -q " $data" /proc/self/mounts; then
    echo "e2b: mounts remain under $data; leaving $work in place" >&2
  elif [ "$rc" -eq 0 ] || [ -z "${E2B_KEEP_FAILED:-}" ]; then
    rm -rf --one-file-system "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "e2b: starting $cove serve on $url (data $data)"
"$cove" serve --listen "127.0.0.1:$port" --data-dir "$data" --system-key "$key" \
  >"$work/server.log" 2>&1 &
server_pid=$!
for i in $(seq 600); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$url/healthz" 2>/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "e2b: cove serve exited during startup" >&2
    exit 1
  fi
  if [ "$i" -eq 600 ]; then
    echo "e2b: cove serve not healthy after 60 s" >&2
    exit 1
  fi
  sleep 0.1
done

# --- SDK environments (idempotent, cached) ---
hash_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

setup_venv() { # name requirements-file -> prints the venv dir
  local req=$here/$2 venv=$cache/venv-e2b-$1
  local stamp; stamp="$(hash_of "$req") $(python3 -c 'import sys; print(sys.version.split()[0])')"
  if [ "$(cat "$venv/.cove-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "e2b: setting up $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$stamp" >"$venv/.cove-stamp"
  fi
  echo "$venv"
}

setup_node() {
  local stamp; stamp=$(hash_of "$here/js/package-lock.json")
  if [ "$(cat "$here/js/node_modules/.cove-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "e2b: npm ci in tests/e2b/js" >&2
    (cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error --cache "$cache/npm") >&2
    echo "$stamp" >"$here/js/node_modules/.cove-stamp"
  fi
}

export E2B_API_URL=$url/e2b/v1
export E2B_SANDBOX_URL=$url
export E2B_API_KEY=$key
export E2B_DOMAIN=127.0.0.1:$port
# Native API, for the tests' own out-of-band checks and cleanup.
export COVE_URL=$url
export COVE_API_KEY=$key
export PYTHONDONTWRITEBYTECODE=1

summary=()
total_pass=0
total_fail=0
overall=0
record() { # label passed failed
  summary+=("$1: $2 passed, $3 failed")
  total_pass=$((total_pass + $2))
  total_fail=$((total_fail + $3))
  if [ "$3" -ne 0 ]; then overall=1; fi
}

run_python() { # name label version requirements dir
  local name=$1 label=$2 v=$3 req=$4 dir=$5 venv xml=$results/$1.xml rc=0
  venv=$(setup_venv "${name#py-}" "$req")
  echo "=== $label $v ($dir)"
  # shellcheck disable=SC2086
  (cd "$here/$dir" && timeout --kill-after=30 900 "$venv/bin/python" -m pytest -p no:cacheprovider \
    -rfE --timeout=180 --junitxml="$xml" ${PYTEST_ARGS:-}) || rc=$?
  local counts
  counts=$(python3 - "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 1"); sys.exit()
p = f = 0
for tc in root.iter("testcase"):
    kinds = {c.tag for c in tc}
    if kinds & {"failure", "error"}:
        f += 1
    elif "skipped" not in kinds:
        p += 1
print(p, f)
EOF
)
  local passed=${counts% *} failed=${counts#* }
  # pytest failed without reporting a failing test (collection error, crash, time limit)
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  record "$label $v" "$passed" "$failed"
}

run_js() { # name label version dir
  local log=$results/$1.log label=$2 v=$3 dir=$4 rc=0
  setup_node
  echo "=== $label $v ($dir)"
  # shellcheck disable=SC2086
  (cd "$here/$dir" && timeout --kill-after=30 900 node --test --test-concurrency=1 \
    --test-timeout=600000 --test-reporter=spec ${NODE_TEST_ARGS:-} ./*.test.mjs) 2>&1 |
    tee "$log" || rc=$?
  local passed failed
  passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  passed=${passed:-0}
  failed=${failed:-0}
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  record "$label $v" "$passed" "$failed"
}

# The code-interpreter SDKs create sandboxes from `code-interpreter-v1`; Cove strips the `-vN`
# suffix, so a template named `code-interpreter` (here: `base` as is, whose read-only /usr is the
# host's, with ipykernel, numpy and matplotlib from scripts/test-deps.sh) is what they get.
# Returns 0 once the template is ready; otherwise explains (with the build log) on stderr.
create_ci_template() {
  echo "e2b: building template code-interpreter (from base, no steps)"
  python3 - "$url" "$key" <<'EOF'
import json, sys, time, urllib.error, urllib.request
url, key = sys.argv[1], sys.argv[2]
def call(method, path, body=None, raw=False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method, headers={
        "Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        out = r.read()
        return out.decode(errors="replace") if raw else (json.loads(out) if out else None)
try:
    call("POST", "/v1/templates",
         {"name": "code-interpreter", "recipe": {"from": {"template": "base"}, "steps": []}})
except urllib.error.HTTPError as e:
    print(f"e2b: POST /v1/templates: {e.code} {e.read().decode(errors='replace')}", file=sys.stderr)
    sys.exit(1)
deadline = time.monotonic() + 300
status = None
while time.monotonic() < deadline:
    t = call("GET", "/v1/templates/code-interpreter")
    status = t.get("status")
    if status == "ready":
        sys.exit(0)
    if status == "error":
        break
    time.sleep(0.5)
print(f"e2b: template code-interpreter is {status!r}, not ready; build log:", file=sys.stderr)
try:
    print(call("GET", "/v1/templates/code-interpreter/build-log", raw=True), file=sys.stderr)
except Exception as e:
    print(f"  (no build log: {e})", file=sys.stderr)
sys.exit(1)
EOF
}

start=$(date +%s)
ci_template=ok
case " $suites " in
  *" py-ci-"* | *" js-ci "*) create_ci_template || ci_template= ;;
esac
for s in "${py_suites[@]}"; do
  read -r name label v req dir <<<"$s"
  case " $suites " in *" $name "*) ;; *) continue ;; esac
  case $name in
    py-ci-*) if [ -z "$ci_template" ]; then record "$label $v" 0 1; continue; fi ;;
  esac
  run_python "$name" "$label" "$v" "$req" "$dir"
done
case " $suites " in *" js "*) run_js js e2b-js "$js_version" js ;; esac
case " $suites " in *" js-ci "*)
  if [ -n "$ci_template" ]; then
    run_js js-ci e2b-code-interpreter-js "$js_ci_version" js/code-interpreter
  else
    record "e2b-code-interpreter-js $js_ci_version" 0 1
  fi ;;
esac

if [ "$overall" -ne 0 ]; then
  echo
  echo "=== last lines of the server log ($work/server.log)"
  sed 's/\x1b\[[0-9;]*m//g' "$work/server.log" | tail -n 40
  log_shown=1
fi
echo
echo "=== E2B SDK conformance ($(($(date +%s) - start)) s)"
for line in "${summary[@]}"; do echo "$line"; done
echo "e2b: $total_pass passed, $total_fail failed"
exit "$overall"
