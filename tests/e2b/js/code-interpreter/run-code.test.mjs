// runCode over the code-interpreter protocol (port 49999): results, state, output streams, errors,
// rich display data, envs, timeouts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { TimeoutError } from '@e2b/code-interpreter';
import { T, err, name, newSandbox, out } from './helpers.mjs';

let sbx;
before(async () => {
  sbx = await newSandbox({ timeoutMs: 600_000 });
});

test('runCode: value is text', T, async () => {
  const execution = await sbx.runCode('1+1');
  assert.equal(execution.text, '2');
  assert.equal(execution.error, undefined);
});

test('runCode: main result is marked', T, async () => {
  const execution = await sbx.runCode('40+2');
  assert.equal(execution.results.length, 1);
  assert.equal(execution.results[0].isMainResult, true);
  assert.equal(execution.results[0].text, '42');
});

test('runCode: execution count', T, async () => {
  const first = await sbx.runCode('1');
  const second = await sbx.runCode('2');
  assert.equal(typeof first.executionCount, 'number');
  assert.ok(second.executionCount > first.executionCount);
});

test('runCode: a statement has no results', T, async () => {
  const execution = await sbx.runCode(`${name()} = 5`);
  assert.deepEqual(execution.results, []);
  assert.equal(execution.text, undefined);
  assert.equal(execution.error, undefined);
});

test('runCode: state persists across calls', T, async () => {
  const v = name();
  await sbx.runCode(`${v} = 7`);
  await sbx.runCode(`${v} *= 6`);
  assert.equal((await sbx.runCode(v)).text, '42');
});

test('runCode: functions and imports persist', T, async () => {
  const f = name('f');
  await sbx.runCode(`import math\ndef ${f}(x):\n    return math.isqrt(x)`);
  assert.equal((await sbx.runCode(`${f}(81)`)).text, '9');
});

test('runCode: onStdout and logs.stdout', T, async () => {
  const seen = [];
  const execution = await sbx.runCode('print("hello"); print("world")', {
    onStdout: (m) => seen.push(m),
  });
  assert.equal(seen.map((m) => m.line).join(''), 'hello\nworld\n');
  assert.ok(seen.every((m) => m.error === false));
  assert.equal(out(execution), 'hello\nworld\n');
  assert.deepEqual(execution.logs.stderr, []);
});

test('runCode: onStderr and logs.stderr', T, async () => {
  const seen = [];
  const execution = await sbx.runCode('import sys; print("oops", file=sys.stderr)', {
    onStderr: (m) => seen.push(m),
  });
  assert.equal(seen.map((m) => m.line).join(''), 'oops\n');
  assert.ok(seen.every((m) => m.error === true));
  assert.equal(err(execution), 'oops\n');
  assert.deepEqual(execution.logs.stdout, []);
});

test('runCode: output before a value', T, async () => {
  const execution = await sbx.runCode('print("side effect")\n6*7');
  assert.equal(out(execution), 'side effect\n');
  assert.equal(execution.text, '42');
});

test('runCode: NameError is execution.error', T, async () => {
  const missing = name('undefined');
  const errors = [];
  const execution = await sbx.runCode(missing, { onError: (e) => errors.push(e) });
  assert.ok(execution.error);
  assert.equal(execution.error.name, 'NameError');
  assert.ok(execution.error.value.includes(missing), execution.error.value);
  assert.ok(execution.error.traceback.includes('NameError'), execution.error.traceback);
  assert.deepEqual(execution.results, []);
  assert.deepEqual(errors.map((e) => e.name), ['NameError']);
});

test('runCode: raised exception keeps the output before it', T, async () => {
  const execution = await sbx.runCode('print("before")\nraise ValueError("bad value")');
  assert.equal(out(execution), 'before\n');
  assert.equal(execution.error.name, 'ValueError');
  assert.equal(execution.error.value, 'bad value');
});

test('runCode: SyntaxError', T, async () => {
  const execution = await sbx.runCode('def broken(:\n    pass');
  assert.equal(execution.error?.name, 'SyntaxError');
});

test('runCode: kernel usable after an error', T, async () => {
  const v = name();
  await sbx.runCode(`${v} = 3`);
  assert.equal((await sbx.runCode('1/0')).error?.name, 'ZeroDivisionError');
  assert.equal((await sbx.runCode(`${v} + 1`)).text, '4');
});

test('runCode: matplotlib chart is a png result', T, async () => {
  const execution = await sbx.runCode(
    "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [4, 1, 9])\nplt.title('cove')\nplt.show()",
  );
  assert.equal(execution.error, undefined);
  const pngs = execution.results.filter((r) => r.png);
  assert.equal(pngs.length, 1, JSON.stringify(execution.results.map((r) => r.formats())));
  assert.equal(pngs[0].isMainResult, false);
  assert.deepEqual([...Buffer.from(pngs[0].png, 'base64').subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(pngs[0].formats().includes('png'));
});

test('runCode: onResult callback', T, async () => {
  const seen = [];
  const execution = await sbx.runCode(
    "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])\nplt.show()",
    { onResult: (r) => seen.push(r) },
  );
  assert.equal(execution.error, undefined);
  assert.deepEqual(seen.map((r) => Boolean(r.png)), [true]);
});

test('runCode: display of HTML and Markdown', T, async () => {
  const execution = await sbx.runCode(
    "from IPython.display import display, HTML, Markdown\ndisplay(HTML('<b>bold</b>'))\ndisplay(Markdown('# Title'))",
  );
  assert.equal(execution.error, undefined);
  assert.equal(execution.results.length, 2);
  const [html, md] = execution.results;
  assert.equal(html.html, '<b>bold</b>');
  assert.equal(md.markdown, '# Title');
  assert.equal(html.isMainResult, false);
  assert.equal(md.isMainResult, false);
});

test('runCode: rich main result', T, async () => {
  const execution = await sbx.runCode("from IPython.display import HTML\nHTML('<i>last</i>')");
  const main = execution.results.filter((r) => r.isMainResult);
  assert.equal(main.length, 1);
  assert.equal(main[0].html, '<i>last</i>');
  assert.ok(main[0].text);
});

test('runCode: numpy is available', T, async () => {
  assert.equal((await sbx.runCode('import numpy as np\nint(np.arange(5).sum())')).text, '10');
});

test('runCode: language python uses the default context', T, async () => {
  const v = name();
  await sbx.runCode(`${v} = 'shared'`);
  const execution = await sbx.runCode(`print(${v})`, { language: 'python' });
  assert.equal(execution.error, undefined);
  assert.equal(out(execution), 'shared\n');
});

test('runCode: envs are visible to the code', T, async () => {
  const execution = await sbx.runCode("import os; print(os.environ.get('COVE_CI_VAR'))", {
    envs: { COVE_CI_VAR: 'from-envs' },
  });
  assert.equal(out(execution), 'from-envs\n');
});

test('runCode: envs apply to one execution', T, async () => {
  await sbx.runCode('pass', { envs: { COVE_CI_ONCE: 'x' } });
  const execution = await sbx.runCode("import os; print(os.environ.get('COVE_CI_ONCE'))");
  assert.equal(out(execution), 'None\n');
});

test('runCode: timeout rejects with TimeoutError and the context survives', T, async () => {
  const ctx = await sbx.createCodeContext();
  try {
    await sbx.runCode('kept = 41', { context: ctx });
    await assert.rejects(
      sbx.runCode('import time; time.sleep(30)', { context: ctx, timeoutMs: 2_000 }),
      (e) => e instanceof TimeoutError,
    );
    const execution = await sbx.runCode('kept + 1', { context: ctx });
    assert.equal(execution.text, '42', JSON.stringify({ ...execution, error: execution.error }));
  } finally {
    await sbx.removeCodeContext(ctx);
  }
});

test('runCode: timeout interrupts the cell', T, async () => {
  const ctx = await sbx.createCodeContext();
  try {
    await assert.rejects(
      sbx.runCode('import time; time.sleep(30); after_sleep = 1', { context: ctx, timeoutMs: 2_000 }),
      (e) => e instanceof TimeoutError,
    );
    // an interrupted cell stops at the sleep; one left running would set after_sleep first
    const execution = await sbx.runCode("'after_sleep' in globals()", { context: ctx });
    assert.equal(execution.text, 'False', JSON.stringify({ ...execution, error: execution.error }));
  } finally {
    await sbx.removeCodeContext(ctx);
  }
});
