"""commands.run and background processes (process.Process over the sandbox proxy)."""

import uuid

import pytest
from conftest import poll
from e2b import CommandExitException


def test_run_stdout(sbx):
    r = sbx.commands.run("echo hello; echo world")
    assert r.stdout == "hello\nworld\n"
    assert r.stderr == ""
    assert r.exit_code == 0


def test_run_stderr(sbx):
    r = sbx.commands.run("echo oops >&2")
    assert r.stderr == "oops\n"
    assert r.stdout == ""


def test_nonzero_exit_raises_command_exit_exception(sbx):
    with pytest.raises(CommandExitException) as e:
        sbx.commands.run("echo partial; echo bad >&2; exit 3")
    assert e.value.exit_code == 3
    assert e.value.stdout == "partial\n"
    assert e.value.stderr == "bad\n"


def test_run_with_envs(sbx):
    r = sbx.commands.run('echo "$FOO-$BAR"', envs={"FOO": "x", "BAR": "y z"})
    assert r.stdout == "x-y z\n"


def test_run_with_cwd(sbx):
    r = sbx.commands.run("pwd", cwd="/tmp")
    assert r.stdout == "/tmp\n"


def test_default_user_and_home(sbx):
    r = sbx.commands.run("whoami; pwd; echo $HOME")
    assert r.stdout == "user\n/home/user\n/home/user\n"


def test_run_as_root(sbx):
    r = sbx.commands.run("whoami; id -u", user="root")
    assert r.stdout == "root\n0\n"


def test_on_stdout_and_on_stderr_callbacks(sbx):
    out, err = [], []
    r = sbx.commands.run(
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done",
        on_stdout=out.append,
        on_stderr=err.append,
    )
    assert "".join(out) == "out1\nout2\nout3\n" == r.stdout
    assert "".join(err) == "err1\nerr2\nerr3\n" == r.stderr


def test_binary_safe_and_large_output(sbx):
    r = sbx.commands.run("head -c 3000000 /dev/zero | tr '\\0' 'a'; echo")
    assert len(r.stdout) == 3000001
    assert set(r.stdout[:-1]) == {"a"}


def test_background_wait(sbx):
    h = sbx.commands.run("sleep 1; echo done", background=True)
    assert h.pid > 0
    r = h.wait()
    assert r.stdout == "done\n"
    assert r.exit_code == 0


def test_background_list_and_kill(sbx):
    h = sbx.commands.run("sleep 300", background=True)
    pids = [p.pid for p in sbx.commands.list()]
    assert h.pid in pids
    info = next(p for p in sbx.commands.list() if p.pid == h.pid)
    assert "sleep 300" in " ".join([info.cmd, *info.args])
    assert sbx.commands.kill(h.pid) is True
    with pytest.raises(CommandExitException):
        h.wait()
    poll(lambda: h.pid not in [p.pid for p in sbx.commands.list()], what="pid gone from list")


def test_background_send_stdin_and_close_stdin(sbx):
    h = sbx.commands.run("cat", background=True, stdin=True)
    sbx.commands.send_stdin(h.pid, "hello ")
    sbx.commands.send_stdin(h.pid, b"bytes\n")
    sbx.commands.close_stdin(h.pid)
    r = h.wait()
    assert r.stdout == "hello bytes\n"


def test_connect_to_background_process(sbx):
    h = sbx.commands.run("read line; echo got:$line", background=True, stdin=True)
    h.disconnect()
    c = sbx.commands.connect(h.pid)
    assert c.pid == h.pid
    sbx.commands.send_stdin(h.pid, "ping\n")
    r = c.wait()
    assert r.stdout == "got:ping\n"


def test_background_process_outlives_its_stream(sbx):
    # timeout=0: no process deadline; closing the client's stream must not end the process.
    marker = f"/tmp/outlive-{uuid.uuid4().hex[:8]}"
    h = sbx.commands.run(f"sleep 2; echo alive > {marker}; sleep 300", background=True, timeout=0)
    h.disconnect()
    poll(
        lambda: sbx.files.exists(marker),
        timeout=60,
        what="process still running after its stream was closed",
    )
    assert h.pid in [p.pid for p in sbx.commands.list()]
    assert sbx.commands.kill(h.pid)


def test_command_timeout_raises(sbx):
    # The SDK's timeout is the process deadline (Connect-Timeout-Ms, as envd does).
    from e2b import TimeoutException

    with pytest.raises((TimeoutException, CommandExitException)):
        sbx.commands.run("sleep 30", timeout=2)


def test_exit_code_after_signal(sbx):
    h = sbx.commands.run("sleep 300", background=True)
    sbx.commands.run(f"kill -TERM {h.pid}", user="root")
    with pytest.raises(CommandExitException) as e:
        h.wait()
    assert e.value.exit_code != 0
