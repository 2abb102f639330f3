"""Fixtures of the code-interpreter suite (official `e2b-code-interpreter` SDK); test modules import
them by name (`from ci_fixtures import sbx`), which keeps one conftest.py for tests/e2b/python.

The parent conftest.py provides track/native_delete; here the sandboxes are the
code-interpreter SDK's own Sandbox class, created without a template argument, so they come from its
default template `code-interpreter-v1` (Cove: the `code-interpreter` template run.sh creates).
"""

import json
import os
import urllib.request

import pytest
from conftest import RUN_TAG, native_delete, track
from e2b_code_interpreter import Sandbox


def native_get(path):
    req = urllib.request.Request(
        f"{os.environ['COVE_URL']}{path}",
        headers={"Authorization": f"Bearer {os.environ['COVE_API_KEY']}"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def sbx():
    """One code-interpreter sandbox shared by the tests of a module (unique names per test)."""
    s = Sandbox.create(timeout=600, metadata={"suite": "e2b-ci-py", "run": RUN_TAG})
    track(s.sandbox_id)
    yield s
    native_delete(s.sandbox_id)


@pytest.fixture
def new_ci_sandbox():
    """Factory: code-interpreter Sandbox.create(**kwargs); deleted after the test."""
    mine = []

    def make(**kwargs):
        kwargs.setdefault("timeout", 300)
        s = Sandbox.create(**kwargs)
        track(s.sandbox_id)
        mine.append(s.sandbox_id)
        return s

    yield make
    for sid in mine:
        native_delete(sid)
