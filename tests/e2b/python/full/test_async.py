"""AsyncSandbox: the async client, including streaming watch_dir (Filesystem/WatchDir).

Each test drives its own event loop with asyncio.run (no pytest plugin needed).
"""

import asyncio
import uuid

from conftest import RUN_TAG, native_delete, track
from e2b import AsyncSandbox, CommandExitException, FilesystemEventType, SandboxQuery


def run(coro_fn):
    async def main():
        sbx = await AsyncSandbox.create(timeout=300, metadata={"suite": "e2b-py-async", "run": RUN_TAG})
        track(sbx.sandbox_id)
        try:
            await coro_fn(sbx)
        finally:
            native_delete(sbx.sandbox_id)

    asyncio.run(main())


async def wait_for(pred, timeout=60.0, what="condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if pred():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_async_commands_run():
    async def body(sbx):
        r = await sbx.commands.run("echo async; echo e >&2")
        assert r.stdout == "async\n"
        assert r.stderr == "e\n"
        try:
            await sbx.commands.run("exit 4")
            raise AssertionError("expected CommandExitException")
        except CommandExitException as e:
            assert e.exit_code == 4

    run(body)


def test_async_background_and_stdin():
    async def body(sbx):
        h = await sbx.commands.run("cat", background=True, stdin=True)
        await sbx.commands.send_stdin(h.pid, "async stdin\n")
        await sbx.commands.close_stdin(h.pid)
        r = await h.wait()
        assert r.stdout == "async stdin\n"

    run(body)


def test_async_files_write_read():
    async def body(sbx):
        path = f"/home/user/async-{uuid.uuid4().hex[:6]}.bin"
        await sbx.files.write(path, b"\x00async\xff")
        assert bytes(await sbx.files.read(path, format="bytes")) == b"\x00async\xff"
        assert await sbx.files.exists(path)

    run(body)


def test_async_watch_dir_streaming():
    async def body(sbx):
        d = f"/home/user/w-{uuid.uuid4().hex[:6]}"
        await sbx.files.make_dir(d)
        events = []
        handle = await sbx.files.watch_dir(d, on_event=events.append, timeout=0)
        try:
            await sbx.files.write(f"{d}/streamed.txt", "hi")
            await wait_for(
                lambda: any(e.name == "streamed.txt" for e in events), what="streamed watch event"
            )
            types = {e.type for e in events if e.name == "streamed.txt"}
            assert types & {FilesystemEventType.CREATE, FilesystemEventType.WRITE}
        finally:
            await handle.stop()

    run(body)


def test_async_watch_dir_recursive():
    async def body(sbx):
        d = f"/home/user/wr-{uuid.uuid4().hex[:6]}"
        await sbx.files.make_dir(f"{d}/a/b")
        events = []
        handle = await sbx.files.watch_dir(d, on_event=events.append, recursive=True, timeout=0)
        try:
            await sbx.files.write(f"{d}/a/b/deep.txt", "x")
            await wait_for(
                lambda: any(e.name == "a/b/deep.txt" for e in events), what="recursive event"
            )
        finally:
            await handle.stop()

    run(body)


def test_async_watch_dir_rename_event():
    async def body(sbx):
        d = f"/home/user/wn-{uuid.uuid4().hex[:6]}"
        await sbx.files.write(f"{d}/old.txt", "x")
        events = []
        handle = await sbx.files.watch_dir(d, on_event=events.append, timeout=0)
        try:
            await sbx.files.rename(f"{d}/old.txt", f"{d}/new.txt")
            await wait_for(
                lambda: any(e.type == FilesystemEventType.RENAME for e in events),
                what="rename event",
            )
        finally:
            await handle.stop()

    run(body)


def test_async_list_and_kill():
    async def main():
        tag = uuid.uuid4().hex[:10]
        sbx = await AsyncSandbox.create(timeout=120, metadata={"tag": tag})
        track(sbx.sandbox_id)
        paginator = AsyncSandbox.list(query=SandboxQuery(metadata={"tag": tag}))
        items = await paginator.next_items()
        assert [x.sandbox_id for x in items] == [sbx.sandbox_id]
        assert await sbx.kill() is True
        assert await AsyncSandbox.kill(sbx.sandbox_id) is False

    asyncio.run(main())
