// Code contexts: create, run in, list, restart, remove.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from '@e2b/code-interpreter';
import { T, newSandbox, out } from './helpers.mjs';

let sbx;
before(async () => {
  sbx = await newSandbox({ timeoutMs: 600_000 });
});

/** Runs fn with a fresh context, removed afterwards (unless the test removed it). */
async function withContext(fn, opts) {
  const ctx = await sbx.createCodeContext(opts);
  try {
    return await fn(ctx);
  } finally {
    await sbx.removeCodeContext(ctx).catch((e) => {
      if (!(e instanceof NotFoundError)) throw e;
    });
  }
}

test('createCodeContext: defaults', T, () =>
  withContext(async (ctx) => {
    assert.ok(ctx.id);
    assert.equal(ctx.language, 'python');
    assert.equal(ctx.cwd, '/home/user');
  }));

test('createCodeContext: cwd', T, () =>
  withContext(
    async (ctx) => {
      assert.equal(ctx.cwd, '/tmp');
      assert.equal(out(await sbx.runCode('import os; print(os.getcwd())', { context: ctx })), '/tmp\n');
    },
    { cwd: '/tmp' },
  ));

test('createCodeContext: language python', T, () =>
  withContext(
    async (ctx) => {
      assert.equal(ctx.language, 'python');
      assert.equal((await sbx.runCode('2*21', { context: ctx })).text, '42');
    },
    { language: 'python' },
  ));

test('context is independent of the default context', T, () =>
  withContext(async (ctx) => {
    await sbx.runCode('only_in_ctx = 1', { context: ctx });
    await sbx.runCode('only_in_default = 2');
    assert.equal((await sbx.runCode("'only_in_ctx' in globals()")).text, 'False');
    assert.equal((await sbx.runCode("'only_in_default' in globals()", { context: ctx })).text, 'False');
    assert.equal((await sbx.runCode('only_in_ctx', { context: ctx })).text, '1');
  }));

test('two contexts are independent', T, () =>
  withContext((a) =>
    withContext(async (b) => {
      await sbx.runCode("who = 'first'", { context: a });
      await sbx.runCode("who = 'second'", { context: b });
      assert.equal(out(await sbx.runCode('print(who)', { context: a })), 'first\n');
      assert.equal(out(await sbx.runCode('print(who)', { context: b })), 'second\n');
    })));

test('listCodeContexts includes a created context', T, () =>
  withContext(async (ctx) => {
    const contexts = await sbx.listCodeContexts();
    const mine = contexts.filter((c) => c.id === ctx.id);
    assert.equal(mine.length, 1, JSON.stringify(contexts));
    assert.equal(mine[0].language, 'python');
    assert.equal(mine[0].cwd, '/home/user');
  }));

test('restartCodeContext clears state', T, () =>
  withContext(async (ctx) => {
    await sbx.runCode('before_restart = 1', { context: ctx });
    await sbx.restartCodeContext(ctx);
    const execution = await sbx.runCode('before_restart', { context: ctx });
    assert.equal(execution.error?.name, 'NameError');
  }));

test('restartCodeContext by id', T, () =>
  withContext(async (ctx) => {
    await sbx.runCode('x_by_id = 1', { context: ctx });
    await sbx.restartCodeContext(ctx.id);
    assert.equal((await sbx.runCode("'x_by_id' in globals()", { context: ctx })).text, 'False');
  }));

test('restartCodeContext leaves the default context alone', T, () =>
  withContext(async (ctx) => {
    await sbx.runCode("default_survives = 'yes'");
    await sbx.restartCodeContext(ctx);
    assert.equal(out(await sbx.runCode('print(default_survives)')), 'yes\n');
  }));

test('removeCodeContext', T, async () => {
  const ctx = await sbx.createCodeContext();
  await sbx.removeCodeContext(ctx);
  assert.ok(!(await sbx.listCodeContexts()).some((c) => c.id === ctx.id));
});

test('runCode in a removed context rejects with NotFoundError', T, async () => {
  const ctx = await sbx.createCodeContext();
  await sbx.removeCodeContext(ctx.id);
  await assert.rejects(sbx.runCode('1', { context: ctx }), (e) => e instanceof NotFoundError);
});

test('removeCodeContext of an unknown id rejects with NotFoundError', T, async () => {
  await assert.rejects(sbx.removeCodeContext('no-such-context'), (e) => e instanceof NotFoundError);
});
