// Error cases raise the SDK's documented errors.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthenticationError,
  CommandExitError,
  FileNotFoundError,
  NotFoundError,
  Sandbox,
  SandboxError,
  SandboxNotFoundError,
} from 'e2b';
import { T, newSandbox } from './helpers.mjs';

const UNKNOWN = 'zzzzzzzzzzzzzzzzzzzz';
const BAD_KEY = `e2b_${'0'.repeat(40)}`;

let sbx;
before(async () => {
  sbx = await newSandbox();
});

test('getInfo of unknown id rejects with SandboxNotFoundError', T, async () => {
  await assert.rejects(Sandbox.getInfo(UNKNOWN), SandboxNotFoundError);
});

test('connect to unknown id rejects with SandboxNotFoundError', T, async () => {
  await assert.rejects(Sandbox.connect(UNKNOWN), SandboxNotFoundError);
});

test('setTimeout of unknown id rejects with SandboxNotFoundError', T, async () => {
  await assert.rejects(Sandbox.setTimeout(UNKNOWN, 60_000), SandboxNotFoundError);
});

test('kill of unknown id returns false', T, async () => {
  assert.equal(await Sandbox.kill(UNKNOWN), false);
});

test('getInfo after kill rejects with SandboxNotFoundError', T, async () => {
  const s = await newSandbox();
  await s.kill();
  await assert.rejects(Sandbox.getInfo(s.sandboxId), SandboxNotFoundError);
});

test('create with a bad API key rejects with AuthenticationError', T, async () => {
  await assert.rejects(Sandbox.create({ apiKey: BAD_KEY }), AuthenticationError);
});

test('list with a bad API key rejects with AuthenticationError', T, async () => {
  await assert.rejects(Sandbox.list({ apiKey: BAD_KEY }).nextItems(), AuthenticationError);
});

test('reading a missing file rejects with FileNotFoundError', T, async () => {
  // the sibling exists, so a 404 can only mean the file is missing
  await sbx.files.write('/home/user/definitely/here.txt', 'x');
  await assert.rejects(sbx.files.read('/home/user/definitely/not-here.txt'), FileNotFoundError);
});

test('getInfo of a missing path rejects with FileNotFoundError', T, async () => {
  await assert.rejects(sbx.files.getInfo('/home/user/no-such-entry'), FileNotFoundError);
});

test('listing a missing dir rejects with FileNotFoundError', T, async () => {
  await assert.rejects(sbx.files.list('/home/user/no-such-dir'), FileNotFoundError);
});

test('connect to an unknown pid rejects with NotFoundError', T, async () => {
  await assert.rejects(sbx.commands.connect(999999), NotFoundError);
});

test('kill of an unknown pid returns false', T, async () => {
  assert.equal(await sbx.commands.kill(999999), false);
});

test('command not found rejects with CommandExitError 127', T, async () => {
  await assert.rejects(sbx.commands.run('definitely-not-a-command-xyz'), (e) => {
    assert.ok(e instanceof CommandExitError);
    assert.equal(e.exitCode, 127);
    return true;
  });
});

test('command on a killed sandbox rejects with a SandboxError', T, async () => {
  const s = await newSandbox();
  await Sandbox.kill(s.sandboxId);
  await assert.rejects(s.commands.run('echo unreachable'), (e) => {
    assert.ok(e instanceof SandboxError, `${e?.constructor?.name}: ${e?.message}`);
    assert.match(e.message, /not (found|running)/i);
    return true;
  });
});
