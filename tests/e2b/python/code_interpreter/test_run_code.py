"""run_code over the code-interpreter protocol (port 49999): results, state, output streams,
errors, rich display data, envs, timeouts."""

import base64
import uuid

import pytest
from ci_fixtures import sbx  # noqa: F401 (fixture)
from e2b_code_interpreter import TimeoutException


def name(prefix="v"):
    """A variable name no other test in the shared kernel uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_run_code_value_is_text(sbx):
    execution = sbx.run_code("1+1")
    assert execution.text == "2"
    assert execution.error is None


def test_main_result_is_marked(sbx):
    execution = sbx.run_code("40+2")
    assert len(execution.results) == 1
    assert execution.results[0].is_main_result
    assert execution.results[0].text == "42"


def test_execution_count_is_reported(sbx):
    first = sbx.run_code("1")
    second = sbx.run_code("2")
    assert isinstance(first.execution_count, int)
    assert second.execution_count > first.execution_count


def test_statement_without_value_has_no_results(sbx):
    execution = sbx.run_code(f"{name()} = 5")
    assert execution.results == []
    assert execution.text is None
    assert execution.error is None


def test_state_persists_across_calls(sbx):
    v = name()
    sbx.run_code(f"{v} = 7")
    sbx.run_code(f"{v} *= 6")
    assert sbx.run_code(v).text == "42"


def test_functions_and_imports_persist(sbx):
    f = name("f")
    sbx.run_code(f"import math\ndef {f}(x):\n    return math.isqrt(x)")
    assert sbx.run_code(f"{f}(81)").text == "9"


def test_stdout_callback_and_logs(sbx):
    seen = []
    execution = sbx.run_code('print("hello"); print("world")', on_stdout=seen.append)
    assert "".join(m.line for m in seen) == "hello\nworld\n"
    assert all(not m.error for m in seen)
    assert all(m.timestamp for m in seen)  # the server's timestamp, passed through as sent
    assert "".join(execution.logs.stdout) == "hello\nworld\n"
    assert execution.logs.stderr == []


def test_stderr_callback_and_logs(sbx):
    seen = []
    execution = sbx.run_code(
        'import sys; print("oops", file=sys.stderr)', on_stderr=seen.append
    )
    assert "".join(m.line for m in seen) == "oops\n"
    assert all(m.error for m in seen)
    assert "".join(execution.logs.stderr) == "oops\n"
    assert execution.logs.stdout == []


def test_output_before_a_value(sbx):
    execution = sbx.run_code('print("side effect")\n6*7')
    assert "".join(execution.logs.stdout) == "side effect\n"
    assert execution.text == "42"


def test_name_error(sbx):
    missing = name("undefined")
    errors = []
    execution = sbx.run_code(missing, on_error=errors.append)
    assert execution.error is not None
    assert execution.error.name == "NameError"
    assert missing in execution.error.value
    assert "NameError" in execution.error.traceback
    assert execution.results == []
    assert [e.name for e in errors] == ["NameError"]


def test_raised_exception_keeps_output_before_it(sbx):
    execution = sbx.run_code('print("before")\nraise ValueError("bad value")')
    assert "".join(execution.logs.stdout) == "before\n"
    assert execution.error.name == "ValueError"
    assert execution.error.value == "bad value"


def test_syntax_error(sbx):
    execution = sbx.run_code("def broken(:\n    pass")
    assert execution.error is not None
    assert execution.error.name == "SyntaxError"


def test_kernel_usable_after_error(sbx):
    v = name()
    sbx.run_code(f"{v} = 3")
    assert sbx.run_code("1/0").error.name == "ZeroDivisionError"
    assert sbx.run_code(f"{v} + 1").text == "4"


def test_matplotlib_chart_is_png(sbx):
    execution = sbx.run_code(
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [4, 1, 9])\n"
        "plt.title('cove')\n"
        "plt.show()"
    )
    assert execution.error is None
    pngs = [r for r in execution.results if r.png]
    assert len(pngs) == 1, execution.results
    assert not pngs[0].is_main_result
    assert base64.b64decode(pngs[0].png).startswith(b"\x89PNG\r\n\x1a\n")
    assert "png" in pngs[0].formats()


def test_on_result_callback(sbx):
    seen = []
    execution = sbx.run_code(
        "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])\nplt.show()",
        on_result=seen.append,
    )
    assert execution.error is None
    assert [bool(r.png) for r in seen] == [True]


def test_display_html_and_markdown(sbx):
    execution = sbx.run_code(
        "from IPython.display import display, HTML, Markdown\n"
        "display(HTML('<b>bold</b>'))\n"
        "display(Markdown('# Title'))"
    )
    assert execution.error is None
    assert len(execution.results) == 2, execution.results
    html, md = execution.results
    assert html.html == "<b>bold</b>"
    assert md.markdown == "# Title"
    assert not html.is_main_result and not md.is_main_result


def test_rich_main_result(sbx):
    execution = sbx.run_code("from IPython.display import HTML\nHTML('<i>last</i>')")
    main = [r for r in execution.results if r.is_main_result]
    assert len(main) == 1
    assert main[0].html == "<i>last</i>"
    assert main[0].text  # the text/plain repr comes along


def test_numpy_available(sbx):
    assert sbx.run_code("import numpy as np\nint(np.arange(5).sum())").text == "10"


def test_language_python_uses_default_context(sbx):
    v = name()
    sbx.run_code(f"{v} = 'shared'")
    execution = sbx.run_code(f"print({v})", language="python")
    assert execution.error is None
    assert "".join(execution.logs.stdout) == "shared\n"


def test_envs_visible_to_code(sbx):
    execution = sbx.run_code(
        "import os; print(os.environ.get('COVE_CI_VAR'))", envs={"COVE_CI_VAR": "from-envs"}
    )
    assert "".join(execution.logs.stdout) == "from-envs\n"


def test_envs_apply_to_one_execution(sbx):
    sbx.run_code("pass", envs={"COVE_CI_ONCE": "x"})
    execution = sbx.run_code("import os; print(os.environ.get('COVE_CI_ONCE'))")
    assert "".join(execution.logs.stdout) == "None\n"


def test_timeout_raises_and_context_survives(sbx):
    ctx = sbx.create_code_context()
    try:
        sbx.run_code("kept = 41", context=ctx)
        with pytest.raises(TimeoutException):
            sbx.run_code("import time; time.sleep(30)", context=ctx, timeout=2)
        # the cell was interrupted; the kernel and its variables are still there
        assert sbx.run_code("kept + 1", context=ctx).text == "42"
    finally:
        sbx.remove_code_context(ctx)


def test_timeout_interrupts_the_cell(sbx):
    ctx = sbx.create_code_context()
    try:
        with pytest.raises(TimeoutException):
            sbx.run_code("import time; time.sleep(30); after_sleep = 1", context=ctx, timeout=2)
        # an interrupted cell stops at the sleep; one left running would set after_sleep before
        # the next cell runs
        assert sbx.run_code("'after_sleep' in globals()", context=ctx).text == "False"
    finally:
        sbx.remove_code_context(ctx)
