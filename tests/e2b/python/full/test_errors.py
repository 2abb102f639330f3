"""Error cases raise the SDK's documented exceptions."""

import pytest
from e2b import (
    AuthenticationException,
    CommandExitException,
    FileNotFoundException,
    NotFoundException,
    Sandbox,
    SandboxNotFoundException,
    SandboxNotRunningException,
)

UNKNOWN = "zzzzzzzzzzzzzzzzzzzz"  # well-formed, never issued
BAD_KEY = "e2b_" + "0" * 40


def test_get_info_unknown_id_raises_sandbox_not_found():
    with pytest.raises(SandboxNotFoundException):
        Sandbox.get_info(UNKNOWN)


def test_connect_unknown_id_raises_sandbox_not_found():
    with pytest.raises(SandboxNotFoundException):
        Sandbox.connect(UNKNOWN)


def test_set_timeout_unknown_id_raises_sandbox_not_found():
    with pytest.raises(SandboxNotFoundException):
        Sandbox.set_timeout(UNKNOWN, 60)


def test_kill_unknown_id_returns_false():
    assert Sandbox.kill(UNKNOWN) is False


def test_get_info_after_kill_raises_sandbox_not_found(new_sandbox):
    s = new_sandbox()
    s.kill()
    with pytest.raises(SandboxNotFoundException):
        Sandbox.get_info(s.sandbox_id)


def test_create_with_bad_api_key_raises_authentication():
    with pytest.raises(AuthenticationException):
        Sandbox.create(api_key=BAD_KEY)


def test_list_with_bad_api_key_raises_authentication():
    with pytest.raises(AuthenticationException):
        Sandbox.list(api_key=BAD_KEY).next_items()


def test_read_missing_file_raises_file_not_found(sbx):
    # the sibling exists, so a 404 can only mean the file is missing
    sbx.files.write("/home/user/definitely/here.txt", "x")
    with pytest.raises(FileNotFoundException):
        sbx.files.read("/home/user/definitely/not-here.txt")


def test_get_info_missing_path_raises_file_not_found(sbx):
    with pytest.raises(FileNotFoundException):
        sbx.files.get_info("/home/user/no-such-entry")


def test_list_missing_dir_raises_file_not_found(sbx):
    with pytest.raises(FileNotFoundException):
        sbx.files.list("/home/user/no-such-dir")


def test_connect_to_unknown_pid_raises_not_found(sbx):
    with pytest.raises(NotFoundException):
        sbx.commands.connect(999999)


def test_kill_unknown_pid_returns_false(sbx):
    assert sbx.commands.kill(999999) is False


def test_command_not_found_raises_command_exit(sbx):
    with pytest.raises(CommandExitException) as e:
        sbx.commands.run("definitely-not-a-command-xyz")
    assert e.value.exit_code == 127


def test_command_on_killed_sandbox_raises_not_running(new_sandbox):
    s = new_sandbox()
    Sandbox.kill(s.sandbox_id)
    with pytest.raises(SandboxNotRunningException):
        s.commands.run("echo unreachable")
