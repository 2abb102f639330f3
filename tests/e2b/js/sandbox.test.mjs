// Sandbox lifecycle through the control-plane API: create, info, list, timeout, connect, kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'e2b';
import { RUN_TAG, T, listAll, newSandbox, poll, track, uid } from './helpers.mjs';

test('create returns a running sandbox', T, async () => {
  const s = await newSandbox();
  assert.match(s.sandboxId, /^[a-z0-9]+$/);
  assert.equal(await s.isRunning(), true);
});

test('create with metadata shows in getInfo', T, async () => {
  const s = await newSandbox({ metadata: { owner: 'bob', run: RUN_TAG } });
  const info = await s.getInfo();
  assert.equal(info.sandboxId, s.sandboxId);
  assert.deepEqual(info.metadata, { owner: 'bob', run: RUN_TAG });
});

test('create with envs visible to commands', T, async () => {
  const s = await newSandbox({ envs: { GREETING: 'hi js', N: '7' } });
  const r = await s.commands.run('echo "$GREETING/$N"');
  assert.equal(r.stdout, 'hi js/7\n');
});

test('getInfo fields', T, async () => {
  const s = await newSandbox({ timeoutMs: 120_000 });
  const info = await s.getInfo();
  assert.ok(info.templateId);
  assert.equal(info.state, 'running');
  assert.ok(info.cpuCount >= 1);
  assert.ok(info.memoryMB > 0);
  assert.ok(info.startedAt instanceof Date);
  assert.ok(info.endAt > info.startedAt);
});

test('static getInfo by id', T, async () => {
  const s = await newSandbox({ metadata: { k: 'v' } });
  const info = await Sandbox.getInfo(s.sandboxId);
  assert.equal(info.sandboxId, s.sandboxId);
  assert.deepEqual(info.metadata, { k: 'v' });
});

test('list filters by metadata', T, async () => {
  const tag = uid();
  const a = await newSandbox({ metadata: { tag, role: 'a' } });
  const b = await newSandbox({ metadata: { tag, role: 'b' } });
  const both = await listAll({ query: { metadata: { tag } } });
  assert.deepEqual(both.items.map((x) => x.sandboxId).sort(), [a.sandboxId, b.sandboxId].sort());
  const onlyA = await listAll({ query: { metadata: { tag, role: 'a' } } });
  assert.deepEqual(onlyA.items.map((x) => x.sandboxId), [a.sandboxId]);
});

test('list filters by metadata with special characters', T, async () => {
  const tag = uid();
  const value = 'a b&c=d/é';
  const s = await newSandbox({ metadata: { tag, 'weird key': value } });
  await newSandbox({ metadata: { tag, 'weird key': 'other' } });
  const found = await listAll({ query: { metadata: { tag, 'weird key': value } } });
  assert.deepEqual(found.items.map((x) => x.sandboxId), [s.sandboxId]);
});

test('list filters by state', T, async () => {
  const tag = uid();
  const s = await newSandbox({ metadata: { tag } });
  const running = await listAll({ query: { metadata: { tag }, state: ['running'] } });
  assert.deepEqual(running.items.map((x) => x.sandboxId), [s.sandboxId]);
  assert.equal(running.items[0].state, 'running');
  const paused = await listAll({ query: { metadata: { tag }, state: ['paused'] } });
  assert.deepEqual(paused.items, []);
});

test('list paginates', T, async () => {
  const tag = uid();
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await newSandbox({ metadata: { tag } })).sandboxId);
  const { items, pages } = await listAll({ query: { metadata: { tag } }, limit: 1 });
  assert.deepEqual(items.map((x) => x.sandboxId).sort(), ids.sort());
  assert.ok(pages >= 3, `pages=${pages}`);
});

test('setTimeout moves endAt', T, async () => {
  const s = await newSandbox({ timeoutMs: 60_000 });
  const before = (await s.getInfo()).endAt;
  await s.setTimeout(1_800_000);
  const afterInfo = (await s.getInfo()).endAt;
  assert.ok(afterInfo.getTime() > before.getTime() + 600_000, `${before} -> ${afterInfo}`);
});

test('connect by id reaches the same sandbox', T, async () => {
  const s = await newSandbox();
  await s.files.write('/home/user/marker.txt', 'connected');
  const c = await Sandbox.connect(s.sandboxId);
  assert.equal(c.sandboxId, s.sandboxId);
  assert.equal(await c.files.read('/home/user/marker.txt'), 'connected');
  assert.equal((await c.commands.run('cat /home/user/marker.txt')).stdout, 'connected');
});

test('kill instance', T, async () => {
  const s = await newSandbox();
  assert.equal(await s.kill(), true);
  await poll(async () => !(await s.isRunning()), { what: 'isRunning() false after kill' });
});

test('static kill returns true then false', T, async () => {
  const s = await newSandbox();
  assert.equal(await Sandbox.kill(s.sandboxId), true);
  assert.equal(await Sandbox.kill(s.sandboxId), false);
});

test('getMetrics', T, async () => {
  const s = await newSandbox();
  const metrics = await poll(async () => {
    const m = await s.getMetrics();
    return m.length ? m : null;
  }, { intervalMs: 1000, what: 'non-empty metrics' });
  const m = metrics.at(-1);
  assert.ok(m.cpuCount >= 1);
  assert.ok(m.memTotal > 0);
  assert.ok(m.diskTotal > 0);
  assert.ok(m.timestamp instanceof Date);
});

test('auto-kill after timeout', T, async () => {
  const s = await newSandbox({ timeoutMs: 3_000 });
  assert.equal(await s.isRunning(), true);
  await poll(async () => !(await s.isRunning()), {
    timeoutMs: 90_000,
    intervalMs: 1000,
    what: 'auto-kill after timeoutMs=3000',
  });
});

test('create from template name', T, async () => {
  const s = await Sandbox.create('base', { timeoutMs: 120_000 });
  track(s.sandboxId);
  assert.equal((await s.commands.run('echo ok')).stdout, 'ok\n');
});
