"""The code-interpreter Sandbox class: default template, and the base Sandbox features it inherits
(commands, files) next to run_code; the async class."""

import asyncio
import uuid

from ci_fixtures import native_get, new_ci_sandbox, sbx  # noqa: F401 (fixtures)
from conftest import native_delete, track
from e2b_code_interpreter import AsyncSandbox


def test_create_uses_default_template(new_ci_sandbox):
    s = new_ci_sandbox()  # no template argument: code-interpreter-v1
    template = native_get("/v1/templates/code-interpreter")
    assert s.get_info().template_id in (template["id"], template["name"])
    native = native_get(f"/v1/sandboxes/{s.sandbox_id}")
    assert native["templateId"] in (template["id"], template["name"])
    assert s.run_code("1+1").text == "2"


def test_kill(new_ci_sandbox):
    s = new_ci_sandbox()
    assert s.run_code("1").text == "1"
    s.kill()
    assert not s.is_running()


def test_commands_run(sbx):
    r = sbx.commands.run("echo from-commands")
    assert r.stdout == "from-commands\n"
    assert r.exit_code == 0


def test_files_written_by_sdk_are_read_by_code(sbx):
    path = f"/home/user/ci-{uuid.uuid4().hex[:8]}.txt"
    sbx.files.write(path, "written by files.write")
    execution = sbx.run_code(f"print(open({path!r}).read())")
    assert "".join(execution.logs.stdout) == "written by files.write\n"


def test_files_written_by_code_are_read_by_sdk(sbx):
    path = f"/home/user/ci-{uuid.uuid4().hex[:8]}.txt"
    execution = sbx.run_code(f"open({path!r}, 'w').write('from the kernel')")
    assert execution.error is None
    assert sbx.files.read(path) == "from the kernel"


def test_code_runs_as_user_in_home(sbx):
    execution = sbx.run_code("import os, getpass; print(getpass.getuser(), os.getcwd())")
    assert "".join(execution.logs.stdout) == "user /home/user\n"


def test_async_sandbox_run_code():
    async def main():
        s = await AsyncSandbox.create(timeout=300)
        track(s.sandbox_id)
        try:
            seen = []
            execution = await s.run_code('print("async")\n1+1', on_stdout=seen.append)
            assert execution.text == "2"
            assert "".join(m.line for m in seen) == "async\n"
            ctx = await s.create_code_context()
            assert (await s.run_code("3*3", context=ctx)).text == "9"
            assert ctx.id in [c.id for c in await s.list_code_contexts()]
        finally:
            await s.kill()
            native_delete(s.sandbox_id)

    asyncio.run(main())
