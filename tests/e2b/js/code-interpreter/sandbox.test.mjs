// The code-interpreter Sandbox class: default template, and the base Sandbox features it inherits
// (commands, files) next to runCode.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { T, nativeGet, newSandbox, out, uid } from './helpers.mjs';

let sbx;
before(async () => {
  sbx = await newSandbox({ timeoutMs: 600_000 });
});

test('Sandbox.create() uses the default template', T, async () => {
  const s = await newSandbox(); // no template: code-interpreter-v1
  const template = await nativeGet('/v1/templates/code-interpreter');
  const ids = [template.id, template.name];
  assert.ok(ids.includes((await s.getInfo()).templateId));
  assert.ok(ids.includes((await nativeGet(`/v1/sandboxes/${s.sandboxId}`)).templateId));
  assert.equal((await s.runCode('1+1')).text, '2');
  await s.kill();
});

test('kill', T, async () => {
  const s = await newSandbox();
  assert.equal((await s.runCode('1')).text, '1');
  await s.kill();
  assert.equal(await s.isRunning(), false);
});

test('commands.run', T, async () => {
  const r = await sbx.commands.run('echo from-commands');
  assert.equal(r.stdout, 'from-commands\n');
  assert.equal(r.exitCode, 0);
});

test('files written by the SDK are read by code', T, async () => {
  const path = `/home/user/ci-${uid()}.txt`;
  await sbx.files.write(path, 'written by files.write');
  const execution = await sbx.runCode(`print(open(${JSON.stringify(path)}).read())`);
  assert.equal(out(execution), 'written by files.write\n');
});

test('files written by code are read by the SDK', T, async () => {
  const path = `/home/user/ci-${uid()}.txt`;
  const execution = await sbx.runCode(`open(${JSON.stringify(path)}, 'w').write('from the kernel')`);
  assert.equal(execution.error, undefined);
  assert.equal(await sbx.files.read(path), 'from the kernel');
});

test('code runs as user in /home/user', T, async () => {
  const execution = await sbx.runCode('import os, getpass; print(getpass.getuser(), os.getcwd())');
  assert.equal(out(execution), 'user /home/user\n');
});
