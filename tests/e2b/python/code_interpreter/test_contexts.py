"""Code contexts: create, run in, list, restart, remove."""

import pytest
from ci_fixtures import sbx  # noqa: F401 (fixture)
from e2b_code_interpreter import NotFoundException


@pytest.fixture
def ctx(sbx):
    c = sbx.create_code_context()
    yield c
    try:
        sbx.remove_code_context(c)
    except NotFoundException:
        pass  # the test removed it


def test_create_context_defaults(ctx):
    assert ctx.id
    assert ctx.language == "python"
    assert ctx.cwd == "/home/user"


def test_create_context_with_cwd(sbx):
    c = sbx.create_code_context(cwd="/tmp")
    try:
        assert c.cwd == "/tmp"
        execution = sbx.run_code("import os; print(os.getcwd())", context=c)
        assert "".join(execution.logs.stdout) == "/tmp\n"
    finally:
        sbx.remove_code_context(c)


def test_create_context_with_language(sbx):
    c = sbx.create_code_context(language="python")
    try:
        assert c.language == "python"
        assert sbx.run_code("2*21", context=c).text == "42"
    finally:
        sbx.remove_code_context(c)


def test_context_is_independent_of_default(sbx, ctx):
    sbx.run_code("only_in_ctx = 1", context=ctx)
    sbx.run_code("only_in_default = 2")
    assert sbx.run_code("'only_in_ctx' in globals()").text == "False"
    assert sbx.run_code("'only_in_default' in globals()", context=ctx).text == "False"
    assert sbx.run_code("only_in_ctx", context=ctx).text == "1"


def test_two_contexts_are_independent(sbx, ctx):
    other = sbx.create_code_context()
    try:
        sbx.run_code("who = 'first'", context=ctx)
        sbx.run_code("who = 'second'", context=other)
        assert "".join(sbx.run_code("print(who)", context=ctx).logs.stdout) == "first\n"
        assert "".join(sbx.run_code("print(who)", context=other).logs.stdout) == "second\n"
    finally:
        sbx.remove_code_context(other)


def test_list_contexts_includes_created(sbx, ctx):
    contexts = sbx.list_code_contexts()
    mine = [c for c in contexts if c.id == ctx.id]
    assert len(mine) == 1, contexts
    assert mine[0].language == "python"
    assert mine[0].cwd == "/home/user"


def test_restart_context_clears_state(sbx, ctx):
    sbx.run_code("before_restart = 1", context=ctx)
    sbx.restart_code_context(ctx)
    execution = sbx.run_code("before_restart", context=ctx)
    assert execution.error is not None
    assert execution.error.name == "NameError"


def test_restart_context_by_id(sbx, ctx):
    sbx.run_code("x_by_id = 1", context=ctx)
    sbx.restart_code_context(ctx.id)
    assert sbx.run_code("'x_by_id' in globals()", context=ctx).text == "False"


def test_restart_leaves_default_context_alone(sbx, ctx):
    sbx.run_code("default_survives = 'yes'")
    sbx.restart_code_context(ctx)
    assert "".join(sbx.run_code("print(default_survives)").logs.stdout) == "yes\n"


def test_remove_context(sbx):
    c = sbx.create_code_context()
    sbx.remove_code_context(c)
    assert c.id not in [x.id for x in sbx.list_code_contexts()]


def test_run_in_removed_context_is_not_found(sbx):
    c = sbx.create_code_context()
    sbx.remove_code_context(c.id)
    with pytest.raises(NotFoundException):
        sbx.run_code("1", context=c)


def test_remove_unknown_context_is_not_found(sbx):
    with pytest.raises(NotFoundException):
        sbx.remove_code_context("no-such-context")
