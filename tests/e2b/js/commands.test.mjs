// commands.run and background processes (process.Process over the sandbox proxy).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { CommandExitError } from 'e2b';
import { T, newSandbox, poll, uid } from './helpers.mjs';

let sbx;
before(async () => {
  sbx = await newSandbox();
});

const pids = async () => (await sbx.commands.list()).map((p) => p.pid);

test('run: stdout', T, async () => {
  const r = await sbx.commands.run('echo hello; echo world');
  assert.equal(r.stdout, 'hello\nworld\n');
  assert.equal(r.stderr, '');
  assert.equal(r.exitCode, 0);
});

test('run: stderr', T, async () => {
  const r = await sbx.commands.run('echo oops >&2');
  assert.equal(r.stderr, 'oops\n');
  assert.equal(r.stdout, '');
});

test('run: non-zero exit rejects with CommandExitError', T, async () => {
  await assert.rejects(sbx.commands.run('echo partial; echo bad >&2; exit 3'), (e) => {
    assert.ok(e instanceof CommandExitError);
    assert.equal(e.exitCode, 3);
    assert.equal(e.stdout, 'partial\n');
    assert.equal(e.stderr, 'bad\n');
    return true;
  });
});

test('run: envs', T, async () => {
  const r = await sbx.commands.run('echo "$FOO-$BAR"', { envs: { FOO: 'x', BAR: 'y z' } });
  assert.equal(r.stdout, 'x-y z\n');
});

test('run: cwd', T, async () => {
  assert.equal((await sbx.commands.run('pwd', { cwd: '/tmp' })).stdout, '/tmp\n');
});

test('run: default user and home', T, async () => {
  const r = await sbx.commands.run('whoami; pwd; echo $HOME');
  assert.equal(r.stdout, 'user\n/home/user\n/home/user\n');
});

test('run: user root', T, async () => {
  assert.equal((await sbx.commands.run('whoami; id -u', { user: 'root' })).stdout, 'root\n0\n');
});

test('run: onStdout and onStderr callbacks', T, async () => {
  const out = [];
  const err = [];
  const r = await sbx.commands.run('for i in 1 2 3; do echo out$i; echo err$i >&2; done', {
    onStdout: (d) => out.push(d),
    onStderr: (d) => err.push(d),
  });
  assert.equal(out.join(''), 'out1\nout2\nout3\n');
  assert.equal(err.join(''), 'err1\nerr2\nerr3\n');
  assert.equal(r.stdout, out.join(''));
});

test('run: large output', T, async () => {
  const r = await sbx.commands.run("head -c 3000000 /dev/zero | tr '\\0' 'a'; echo");
  assert.equal(r.stdout.length, 3_000_001);
});

test('background: wait', T, async () => {
  const h = await sbx.commands.run('sleep 1; echo done', { background: true });
  assert.ok(h.pid > 0);
  const r = await h.wait();
  assert.equal(r.stdout, 'done\n');
});

test('background: list and kill', T, async () => {
  const h = await sbx.commands.run('sleep 300', { background: true });
  const info = (await sbx.commands.list()).find((p) => p.pid === h.pid);
  assert.ok(info, 'pid listed');
  assert.match([info.cmd, ...info.args].join(' '), /sleep 300/);
  assert.equal(await sbx.commands.kill(h.pid), true);
  await assert.rejects(h.wait(), CommandExitError);
  await poll(async () => !(await pids()).includes(h.pid), { what: 'pid gone from list' });
});

test('background: sendStdin and closeStdin', T, async () => {
  const h = await sbx.commands.run('cat', { background: true, stdin: true });
  await sbx.commands.sendStdin(h.pid, 'hello ');
  await sbx.commands.sendStdin(h.pid, new TextEncoder().encode('bytes\n'));
  await sbx.commands.closeStdin(h.pid);
  const r = await h.wait();
  assert.equal(r.stdout, 'hello bytes\n');
});

test('background: connect to a running process', T, async () => {
  const h = await sbx.commands.run('read line; echo got:$line', { background: true, stdin: true });
  await h.disconnect();
  const c = await sbx.commands.connect(h.pid);
  assert.equal(c.pid, h.pid);
  await sbx.commands.sendStdin(h.pid, 'ping\n');
  const r = await c.wait();
  assert.equal(r.stdout, 'got:ping\n');
});

test('background: process outlives its closed stream', T, async () => {
  const marker = `/tmp/outlive-${uid()}`;
  const h = await sbx.commands.run(`sleep 2; echo alive > ${marker}; sleep 300`, {
    background: true,
    timeoutMs: 0,
  });
  await h.disconnect();
  await poll(() => sbx.files.exists(marker), { what: 'process alive after disconnect' });
  assert.ok((await pids()).includes(h.pid));
  assert.equal(await sbx.commands.kill(h.pid), true);
});

test('pty: create and sendInput', T, async () => {
  let out = '';
  const dec = new TextDecoder();
  const h = await sbx.pty.create({ cols: 80, rows: 24, timeoutMs: 0, onData: (d) => { out += dec.decode(d); } });
  await sbx.pty.sendInput(h.pid, new TextEncoder().encode('echo marker-$((40+2))\n'));
  await poll(() => out.includes('marker-42'), { what: 'pty output' });
  await sbx.pty.sendInput(h.pid, new TextEncoder().encode('exit\n'));
  const r = await h.wait();
  assert.equal(r.exitCode, 0);
});

test('pty: resize', T, async () => {
  let out = '';
  const dec = new TextDecoder();
  const h = await sbx.pty.create({ cols: 80, rows: 24, timeoutMs: 0, onData: (d) => { out += dec.decode(d); } });
  const enc = new TextEncoder();
  await sbx.pty.sendInput(h.pid, enc.encode("stty size | sed 's/ /x/'\n"));
  await poll(() => out.includes('24x80'), { what: 'initial size' });
  await sbx.pty.resize(h.pid, { cols: 33, rows: 10 });
  await sbx.pty.sendInput(h.pid, enc.encode("stty size | sed 's/ /x/'; exit\n"));
  await h.wait();
  assert.ok(out.includes('10x33'), out);
});

test('pty: kill', T, async () => {
  const h = await sbx.pty.create({ cols: 80, rows: 24, timeoutMs: 0, onData: () => {} });
  assert.equal(await sbx.pty.kill(h.pid), true);
  await assert.rejects(h.wait(), CommandExitError);
  await poll(async () => !(await pids()).includes(h.pid), { what: 'pty gone from list' });
});
