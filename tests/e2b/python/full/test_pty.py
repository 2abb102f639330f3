"""Interactive terminals: pty.create, send_stdin, resize, kill."""

import threading

from conftest import poll
from e2b import CommandExitException, PtySize


class Screen:
    """Collects PTY output from a handle on a background thread."""

    def __init__(self, handle):
        self.handle = handle
        self.data = bytearray()
        self.result = None
        self.error = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        try:
            self.result = self.handle.wait(on_pty=lambda b: self.data.extend(b))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def text(self):
        return self.data.decode("utf-8", "replace")

    def join(self, timeout=60):
        self._t.join(timeout)
        assert not self._t.is_alive(), "pty did not end"


def test_pty_create_and_send_stdin(sbx):
    h = sbx.pty.create(PtySize(rows=24, cols=80), timeout=0)
    screen = Screen(h)
    sbx.pty.send_stdin(h.pid, b"echo marker-$((40+2))\n")
    poll(lambda: "marker-42" in screen.text(), what="pty echo output")
    sbx.pty.send_stdin(h.pid, b"exit\n")
    screen.join()
    assert screen.error is None, screen.error
    assert screen.result.exit_code == 0


def test_pty_is_a_terminal_with_term(sbx):
    h = sbx.pty.create(PtySize(rows=24, cols=80), timeout=0)
    screen = Screen(h)
    sbx.pty.send_stdin(h.pid, b"test -t 0 && echo tty-$TERM-yes; exit\n")
    screen.join()
    assert "tty-xterm-256color-yes" in screen.text()


def test_pty_resize(sbx):
    h = sbx.pty.create(PtySize(rows=24, cols=80), timeout=0)
    screen = Screen(h)
    sbx.pty.send_stdin(h.pid, b"stty size | sed 's/ /x/'\n")
    poll(lambda: "24x80" in screen.text(), what="initial size 24x80")
    sbx.pty.resize(h.pid, PtySize(rows=10, cols=33))
    sbx.pty.send_stdin(h.pid, b"stty size | sed 's/ /x/'; exit\n")
    screen.join()
    assert "10x33" in screen.text()


def test_pty_kill(sbx):
    h = sbx.pty.create(PtySize(rows=24, cols=80), timeout=0)
    screen = Screen(h)
    assert sbx.pty.kill(h.pid) is True
    screen.join()
    assert isinstance(screen.error, CommandExitException)
    poll(lambda: h.pid not in [p.pid for p in sbx.commands.list()], what="pty gone from list")


def test_pty_with_cwd_and_envs(sbx):
    h = sbx.pty.create(PtySize(rows=24, cols=80), cwd="/tmp", envs={"PTYVAR": "pv"}, timeout=0)
    screen = Screen(h)
    sbx.pty.send_stdin(h.pid, b"echo \"at-$(pwd)-$PTYVAR\"; exit\n")
    screen.join()
    assert "at-/tmp-pv" in screen.text()


def test_pty_exit_code(sbx):
    h = sbx.pty.create(PtySize(rows=24, cols=80), timeout=0)
    screen = Screen(h)
    sbx.pty.send_stdin(h.pid, b"exit 7\n")
    screen.join()
    assert isinstance(screen.error, CommandExitException), screen.error
    assert screen.error.exit_code == 7
