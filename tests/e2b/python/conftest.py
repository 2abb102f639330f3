"""Fixtures shared by the E2B Python suites (full/ for the current SDK, smoke/ for an older one).

The SDK reads its configuration from the environment that tests/e2b/run.sh sets up:
E2B_API_URL (Cove's /e2b/v1), E2B_SANDBOX_URL (the same listener, routed by headers or token),
E2B_API_KEY. COVE_URL/COVE_API_KEY reach Cove's native API, used only for cleanup, so a
sandbox is deleted even when the E2B surface under test cannot kill it.
"""

import json
import os
import time
import urllib.request
import uuid

import pytest
from e2b import Sandbox

# One tag per run: list filters only see this run's sandboxes.
RUN_TAG = uuid.uuid4().hex[:12]

_created = []


def track(sandbox_id):
    """Registers a sandbox id for deletion at the end of the session."""
    _created.append(sandbox_id)
    return sandbox_id


def native_delete(sandbox_id):
    req = urllib.request.Request(
        f"{os.environ['COVE_URL']}/v1/sandboxes/{sandbox_id}",
        method="DELETE",
        headers={"Authorization": f"Bearer {os.environ['COVE_API_KEY']}"},
    )
    try:
        urllib.request.urlopen(req, timeout=60).read()
    except Exception:
        pass


def poll(fn, timeout=60.0, interval=0.25, what="condition"):
    """Calls fn until it returns a truthy value; returns it. Fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


@pytest.fixture(scope="session", autouse=True)
def _cleanup_session():
    yield
    for sid in _created:
        native_delete(sid)


@pytest.fixture
def new_sandbox():
    """Factory: creates a sandbox with Sandbox.create(**kwargs); deleted after the test."""
    mine = []

    def make(**kwargs):
        kwargs.setdefault("timeout", 300)
        sbx = Sandbox.create(**kwargs)
        track(sbx.sandbox_id)
        mine.append(sbx.sandbox_id)
        return sbx

    yield make
    for sid in mine:
        native_delete(sid)


@pytest.fixture(scope="module")
def sbx():
    """One sandbox shared by the tests of a module (each test uses its own paths)."""
    s = Sandbox.create(timeout=600, metadata={"suite": "e2b-py", "run": RUN_TAG})
    track(s.sandbox_id)
    yield s
    native_delete(s.sandbox_id)


@pytest.fixture
def tmpdir_in_sandbox(sbx, request):
    """A fresh directory inside the shared sandbox, named after the test."""
    path = f"/home/user/t-{request.node.name[:40]}-{uuid.uuid4().hex[:6]}"
    sbx.files.make_dir(path)
    return path


def dumps(x):
    return json.dumps(x, default=str)
