// Filesystem: /files upload and download, filesystem.Filesystem RPCs, streaming watchDir.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FileType, FilesystemEventType } from 'e2b';
import { T, newSandbox, poll, uid } from './helpers.mjs';

let sbx;
before(async () => {
  sbx = await newSandbox();
});

const p = (name) => `/home/user/f-${uid()}-${name}`;
const bufOf = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);

test('write string, read text', T, async () => {
  const path = p('a.txt');
  const info = await sbx.files.write(path, 'héllo wörld\n');
  assert.equal(info.path, path);
  assert.equal(await sbx.files.read(path), 'héllo wörld\n');
});

test('write bytes, read bytes', T, async () => {
  const path = p('all.bin');
  const data = Buffer.alloc(256 * 64, 0).map((_, i) => i % 256);
  await sbx.files.write(path, data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const got = await sbx.files.read(path, { format: 'bytes' });
  assert.ok(bufOf(got).equals(data));
});

test('write Blob, read blob', T, async () => {
  const path = p('blob.txt');
  await sbx.files.write(path, new Blob(['from a blob']));
  const blob = await sbx.files.read(path, { format: 'blob' });
  assert.equal(await blob.text(), 'from a blob');
});

test('write multiple files', T, async () => {
  const base = p('multi');
  const infos = await sbx.files.write([
    { path: `${base}/one.txt`, data: 'one' },
    { path: `${base}/sub/two.txt`, data: 'two' },
  ]);
  assert.deepEqual(infos.map((i) => i.path).sort(), [`${base}/one.txt`, `${base}/sub/two.txt`]);
  assert.equal(await sbx.files.read(`${base}/one.txt`), 'one');
  assert.equal(await sbx.files.read(`${base}/sub/two.txt`), 'two');
});

test('write octet-stream', T, async () => {
  const path = p('octet.bin');
  const data = randomBytes(100_000);
  const info = await sbx.files.write(path, new Blob([data]), { useOctetStream: true });
  assert.equal(info.path, path);
  assert.ok(bufOf(await sbx.files.read(path, { format: 'bytes' })).equals(data));
});

test('write ReadableStream', T, async () => {
  const path = p('stream-in.txt');
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('chunk1-'));
      c.enqueue(new TextEncoder().encode('chunk2'));
      c.close();
    },
  });
  await sbx.files.write(path, stream);
  assert.equal(await sbx.files.read(path), 'chunk1-chunk2');
});

test('write gzip', T, async () => {
  const path = p('gz.txt');
  const text = 'compress me '.repeat(1000);
  await sbx.files.write(path, text, { gzip: true });
  assert.equal(await sbx.files.read(path), text);
  assert.equal((await sbx.commands.run(`wc -c < ${path}`)).stdout.trim(), String(text.length));
});

test('read gzip', T, async () => {
  const path = p('gzr.txt');
  const text = 'read compressed '.repeat(1000);
  await sbx.files.write(path, text);
  assert.equal(await sbx.files.read(path, { gzip: true }), text);
});

test('read stream', T, async () => {
  const path = p('stream.bin');
  const data = randomBytes(3 * 1024 * 1024);
  await sbx.files.write(path, new Blob([data]));
  const stream = await sbx.files.read(path, { format: 'stream' });
  const chunks = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  assert.ok(Buffer.concat(chunks).equals(data));
});

test('list with depth', T, async () => {
  const base = p('tree');
  await sbx.files.write(`${base}/a.txt`, 'a');
  await sbx.files.write(`${base}/d/b.txt`, 'b');
  await sbx.files.write(`${base}/d/e/c.txt`, 'c');
  const one = (await sbx.files.list(base)).map((e) => e.path).sort();
  assert.deepEqual(one, [`${base}/a.txt`, `${base}/d`]);
  const two = (await sbx.files.list(base, { depth: 2 })).map((e) => e.path).sort();
  assert.deepEqual(two, [`${base}/a.txt`, `${base}/d`, `${base}/d/b.txt`, `${base}/d/e`]);
  const a = (await sbx.files.list(base)).find((e) => e.name === 'a.txt');
  assert.equal(a.type, FileType.FILE);
  assert.equal(a.size, 1);
});

test('exists', T, async () => {
  const path = p('exists.txt');
  assert.equal(await sbx.files.exists(path), false);
  await sbx.files.write(path, 'x');
  assert.equal(await sbx.files.exists(path), true);
});

test('makeDir', T, async () => {
  const path = p('newdir');
  assert.equal(await sbx.files.makeDir(path), true);
  assert.equal((await sbx.files.getInfo(path)).type, FileType.DIR);
  assert.equal(await sbx.files.makeDir(path), false);
});

test('rename', T, async () => {
  const src = p('src.txt');
  const dst = p('dst.txt');
  await sbx.files.write(src, 'moving');
  const info = await sbx.files.rename(src, dst);
  assert.equal(info.path, dst);
  assert.equal(await sbx.files.exists(src), false);
  assert.equal(await sbx.files.read(dst), 'moving');
});

test('remove', T, async () => {
  const path = p('rm.txt');
  await sbx.files.write(path, 'bye');
  await sbx.files.remove(path);
  assert.equal(await sbx.files.exists(path), false);
});

test('getInfo', T, async () => {
  const path = p('info.txt');
  await sbx.files.write(path, '12345');
  const info = await sbx.files.getInfo(path);
  assert.equal(info.path, path);
  assert.equal(info.type, FileType.FILE);
  assert.equal(info.size, 5);
  assert.equal(info.owner, 'user');
  assert.match(info.permissions, /^-rw/);
  assert.ok(info.modifiedTime instanceof Date);
});

test('watchDir: streaming events', T, async () => {
  const d = p('watch');
  await sbx.files.makeDir(d);
  const events = [];
  const h = await sbx.files.watchDir(d, (e) => events.push(e), { timeoutMs: 0 });
  try {
    await sbx.files.write(`${d}/new.txt`, 'hello');
    await poll(() => events.some((e) => e.name === 'new.txt'), { what: 'watch event' });
    const types = new Set(events.filter((e) => e.name === 'new.txt').map((e) => e.type));
    assert.ok(types.has(FilesystemEventType.CREATE) || types.has(FilesystemEventType.WRITE));
  } finally {
    await h.stop();
  }
});

test('watchDir: recursive', T, async () => {
  const d = p('watchr');
  await sbx.files.makeDir(`${d}/sub`);
  const events = [];
  const h = await sbx.files.watchDir(d, (e) => events.push(e), { recursive: true, timeoutMs: 0 });
  try {
    await sbx.files.write(`${d}/sub/deep.txt`, 'x');
    await poll(() => events.some((e) => e.name === 'sub/deep.txt'), { what: 'recursive event' });
  } finally {
    await h.stop();
  }
});

test('watchDir: remove event', T, async () => {
  const d = p('watchrm');
  await sbx.files.write(`${d}/gone.txt`, 'x');
  const events = [];
  const h = await sbx.files.watchDir(d, (e) => events.push(e), { timeoutMs: 0 });
  try {
    await sbx.files.remove(`${d}/gone.txt`);
    await poll(
      () => events.some((e) => e.name === 'gone.txt' && e.type === FilesystemEventType.REMOVE),
      { what: 'remove event' },
    );
  } finally {
    await h.stop();
  }
});

test('downloadUrl fetched with plain fetch', T, async () => {
  const path = p('dl.txt');
  await sbx.files.write(path, 'download me');
  const r = await fetch(await sbx.downloadUrl(path));
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'download me');
});

test('downloadUrl with signature expiration', T, async () => {
  const path = p('dlexp.txt');
  await sbx.files.write(path, 'expiring');
  const url = await sbx.downloadUrl(path, { useSignatureExpiration: 600 });
  assert.match(url, /signature_expiration=/);
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'expiring');
});

test('uploadUrl posted with plain fetch', T, async () => {
  const path = p('ul.txt');
  const form = new FormData();
  form.append('file', new Blob(['uploaded bytes']), 'ul.txt');
  const r = await fetch(await sbx.uploadUrl(path), { method: 'POST', body: form });
  assert.equal(r.status, 200, await r.text());
  assert.equal(await sbx.files.read(path), 'uploaded bytes');
});
