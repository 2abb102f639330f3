"""Sandbox lifecycle through the control-plane API: create, info, list, timeout, connect, kill."""

import re
import uuid
from datetime import datetime, timedelta, timezone

from conftest import RUN_TAG, poll, track
from e2b import Sandbox, SandboxQuery, SandboxState


def test_create_returns_running_sandbox(new_sandbox):
    s = new_sandbox()
    assert re.fullmatch(r"[a-z0-9]+", s.sandbox_id), s.sandbox_id
    assert s.is_running()


def test_create_with_metadata_shows_in_info(new_sandbox):
    s = new_sandbox(metadata={"owner": "alice", "run": RUN_TAG})
    info = s.get_info()
    assert info.sandbox_id == s.sandbox_id
    assert info.metadata == {"owner": "alice", "run": RUN_TAG}


def test_create_with_envs_visible_to_commands(new_sandbox):
    s = new_sandbox(envs={"GREETING": "hello from envs", "SECOND": "2"})
    r = s.commands.run('echo "$GREETING/$SECOND"')
    assert r.stdout == "hello from envs/2\n"


def test_get_info_fields(new_sandbox):
    s = new_sandbox(timeout=120)
    info = s.get_info()
    assert info.template_id
    assert info.state == SandboxState.RUNNING
    assert info.cpu_count >= 1
    assert info.memory_mb > 0
    assert info.envd_version
    assert info.started_at < info.end_at
    now = datetime.now(timezone.utc)
    # end = start + ~120 s (generous bounds, no timing assertions)
    assert now - timedelta(minutes=10) < info.started_at < now + timedelta(minutes=10)
    assert info.end_at - info.started_at < timedelta(seconds=600)


def test_static_get_info_by_id(new_sandbox):
    s = new_sandbox(metadata={"k": "v"})
    info = Sandbox.get_info(s.sandbox_id)
    assert info.sandbox_id == s.sandbox_id
    assert info.metadata == {"k": "v"}


def _list_all(query, limit=None):
    paginator = Sandbox.list(query=query, limit=limit)
    items, pages = [], 0
    while paginator.has_next:
        page = paginator.next_items()
        pages += 1
        items.extend(page)
        assert pages < 100, "paginator does not end"
    return items, pages


def test_list_filters_by_metadata(new_sandbox):
    tag = uuid.uuid4().hex[:10]
    a = new_sandbox(metadata={"tag": tag, "role": "a"})
    b = new_sandbox(metadata={"tag": tag, "role": "b"})
    both, _ = _list_all(SandboxQuery(metadata={"tag": tag}))
    assert sorted(x.sandbox_id for x in both) == sorted([a.sandbox_id, b.sandbox_id])
    only_a, _ = _list_all(SandboxQuery(metadata={"tag": tag, "role": "a"}))
    assert [x.sandbox_id for x in only_a] == [a.sandbox_id]
    assert only_a[0].metadata == {"tag": tag, "role": "a"}


def test_list_metadata_with_special_characters(new_sandbox):
    tag = uuid.uuid4().hex[:10]
    value = "a b&c=d/é"
    s = new_sandbox(metadata={"tag": tag, "weird key": value})
    new_sandbox(metadata={"tag": tag, "weird key": "other"})
    found, _ = _list_all(SandboxQuery(metadata={"tag": tag, "weird key": value}))
    assert [x.sandbox_id for x in found] == [s.sandbox_id]


def test_list_filters_by_state(new_sandbox):
    tag = uuid.uuid4().hex[:10]
    s = new_sandbox(metadata={"tag": tag})
    running, _ = _list_all(SandboxQuery(metadata={"tag": tag}, state=[SandboxState.RUNNING]))
    assert [x.sandbox_id for x in running] == [s.sandbox_id]
    assert running[0].state == SandboxState.RUNNING
    paused, _ = _list_all(SandboxQuery(metadata={"tag": tag}, state=[SandboxState.PAUSED]))
    assert paused == []


def test_list_paginates(new_sandbox):
    tag = uuid.uuid4().hex[:10]
    ids = sorted(new_sandbox(metadata={"tag": tag}).sandbox_id for _ in range(3))
    items, pages = _list_all(SandboxQuery(metadata={"tag": tag}), limit=1)
    assert sorted(x.sandbox_id for x in items) == ids
    assert pages >= 3


def test_list_excludes_killed(new_sandbox):
    tag = uuid.uuid4().hex[:10]
    s = new_sandbox(metadata={"tag": tag})
    s.kill()
    items, _ = _list_all(SandboxQuery(metadata={"tag": tag}))
    assert items == []


def test_set_timeout_moves_end_at(new_sandbox):
    s = new_sandbox(timeout=60)
    before = s.get_info().end_at
    s.set_timeout(1800)
    after = s.get_info().end_at
    assert after > before + timedelta(seconds=600)
    assert s.is_running()


def test_connect_by_id_reaches_same_sandbox(new_sandbox):
    s = new_sandbox()
    s.files.write("/home/user/marker.txt", "connected")
    c = Sandbox.connect(s.sandbox_id)
    assert c.sandbox_id == s.sandbox_id
    assert c.files.read("/home/user/marker.txt") == "connected"
    assert c.commands.run("cat /home/user/marker.txt").stdout == "connected"


def test_kill_instance(new_sandbox):
    s = new_sandbox()
    s.kill()
    poll(lambda: not s.is_running(), what="is_running() False after kill")


def test_kill_by_id_returns_true_then_false(new_sandbox):
    s = new_sandbox()
    assert Sandbox.kill(s.sandbox_id) is True
    assert Sandbox.kill(s.sandbox_id) is False


def test_is_running(new_sandbox):
    s = new_sandbox()
    assert s.is_running() is True
    Sandbox.kill(s.sandbox_id)
    poll(lambda: s.is_running() is False, what="is_running() False")


def test_context_manager_kills_on_exit():
    with Sandbox.create(timeout=120) as s:
        track(s.sandbox_id)
        assert s.commands.run("echo in").stdout == "in\n"
    poll(lambda: not s.is_running(), what="sandbox gone after with-block")


def test_get_metrics(new_sandbox):
    s = new_sandbox()
    metrics = poll(s.get_metrics, timeout=60, interval=1, what="non-empty metrics")
    m = metrics[-1]
    assert m.cpu_count >= 1
    assert m.mem_total > 0
    assert m.mem_used >= 0
    assert m.disk_total > 0
    assert m.cpu_used_pct >= 0
    assert isinstance(m.timestamp, datetime)


def test_auto_kill_after_timeout(new_sandbox):
    s = new_sandbox(timeout=3)
    assert s.is_running()
    poll(lambda: not s.is_running(), timeout=90, interval=1, what="auto-kill after timeout=3")


def test_create_from_template_base(new_sandbox):
    s = new_sandbox(template="base")
    assert s.get_info().template_id
    assert s.commands.run("echo ok").stdout == "ok\n"
