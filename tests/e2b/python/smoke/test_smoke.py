"""Smoke suite for an older E2B Python SDK (see ../requirements-2.20.txt for the version choice).

A sandbox obtained with Sandbox.connect() sends no E2b-Sandbox-Id/E2b-Sandbox-Port headers in this
SDK, so the tests named *_after_connect prove the access-token routing fallback, and the signed
URLs prove signature routing. It also exercises the v1 create/connect endpoints.
"""

import uuid

import httpx
import pytest
from conftest import poll, track
from e2b import CommandExitException, FileNotFoundException, Sandbox, SandboxQuery


@pytest.fixture
def sandbox(new_sandbox):
    return new_sandbox(metadata={"suite": "e2b-py-smoke"}, envs={"SMOKE": "yes"})


@pytest.fixture
def connected(sandbox):
    c = Sandbox.connect(sandbox.sandbox_id)
    # the premise of the fallback tests: no routing headers on this connection
    headers = {k.lower() for k in c.connection_config.sandbox_headers}
    assert "e2b-sandbox-id" not in headers
    return c


def test_create_and_run(sandbox):
    r = sandbox.commands.run('echo "smoke=$SMOKE"')
    assert r.stdout == "smoke=yes\n"


def test_run_nonzero_exit_raises(sandbox):
    with pytest.raises(CommandExitException) as e:
        sandbox.commands.run("exit 5")
    assert e.value.exit_code == 5


def test_files_write_read(sandbox):
    sandbox.files.write("/home/user/smoke.txt", "smoke text")
    assert sandbox.files.read("/home/user/smoke.txt") == "smoke text"
    data = bytes(range(256))
    sandbox.files.write("/home/user/smoke.bin", data)
    assert bytes(sandbox.files.read("/home/user/smoke.bin", format="bytes")) == data


def test_get_info_and_list(sandbox):
    info = sandbox.get_info()
    assert info.sandbox_id == sandbox.sandbox_id
    assert info.metadata == {"suite": "e2b-py-smoke"}
    tag = uuid.uuid4().hex[:10]
    s2 = Sandbox.create(timeout=120, metadata={"tag": tag})
    track(s2.sandbox_id)
    try:
        items = Sandbox.list(query=SandboxQuery(metadata={"tag": tag})).next_items()
        assert [x.sandbox_id for x in items] == [s2.sandbox_id]
    finally:
        s2.kill()


def test_kill(sandbox):
    assert sandbox.kill() is True
    poll(lambda: not sandbox.is_running(), what="is_running() False after kill")


def test_run_after_connect(connected):
    r = connected.commands.run('echo "via token $SMOKE"; whoami')
    assert r.stdout == "via token yes\nuser\n"


def test_files_after_connect(connected, sandbox):
    connected.files.write("/home/user/after-connect.txt", "fallback")
    assert connected.files.read("/home/user/after-connect.txt") == "fallback"
    assert sandbox.files.read("/home/user/after-connect.txt") == "fallback"


def test_filesystem_rpc_after_connect(connected):
    connected.files.make_dir("/home/user/rpc-dir")
    names = [e.name for e in connected.files.list("/home/user")]
    assert "rpc-dir" in names


def test_is_running_after_connect(connected):
    assert connected.is_running() is True


def test_missing_file_after_connect_raises(connected):
    connected.files.write("/home/user/present-after-connect.txt", "x")  # the sandbox is reached
    with pytest.raises(FileNotFoundException):
        connected.files.read("/home/user/missing-after-connect.txt")


def test_background_process_after_connect(connected):
    h = connected.commands.run("cat", background=True, stdin=True)
    connected.commands.send_stdin(h.pid, "in\n")
    connected.commands.kill(h.pid)
    with pytest.raises(CommandExitException):
        h.wait()


def test_download_url_after_connect(connected):
    connected.files.write("/home/user/dl.txt", "signed")
    r = httpx.get(connected.download_url("/home/user/dl.txt"), timeout=60)
    assert r.status_code == 200, r.text
    assert r.content == b"signed"


def test_upload_url_after_connect(connected):
    r = httpx.post(
        connected.upload_url("/home/user/ul.txt"),
        files={"file": ("ul.txt", b"uploaded")},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert connected.files.read("/home/user/ul.txt") == "uploaded"


def test_kill_after_connect(connected):
    assert connected.kill() is True
    poll(lambda: not connected.is_running(), what="is_running() False after kill")
