// Reaching a server that runs inside the sandbox on a user port (getHost and header routing).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { T, newSandbox, poll } from './helpers.mjs';

let sbx;
before(async () => {
  sbx = await newSandbox();
  // the page is written by a command, so these tests depend on port routing only
  await sbx.commands.run("mkdir -p /home/user/www && printf 'hello from port 8000' > /home/user/www/index.html");
  await sbx.commands.run('python3 -m http.server 8000 --bind 127.0.0.1', {
    cwd: '/home/user/www',
    background: true,
    timeoutMs: 0,
  });
  await poll(
    async () =>
      (
        await sbx.commands.run(
          `python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/').read()" && echo up || true`,
        )
      ).stdout.trim() === 'up',
    { what: 'http.server listening in the sandbox' },
  );
});

/** GET with explicit headers (fetch cannot override Host). */
function get(path, headers) {
  const base = new URL(process.env.E2B_SANDBOX_URL);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, path, method: 'GET', headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('getHost routes by Host header', T, async () => {
  const host = sbx.getHost(8000);
  assert.ok(host.startsWith(`8000-${sbx.sandboxId}.`), host);
  const r = await get('/index.html', { host });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'hello from port 8000');
});

test('E2b-Sandbox-Id/Port headers route to a user port', T, async () => {
  const r = await get('/index.html', { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '8000' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'hello from port 8000');
});
