// Helpers of the code-interpreter suite (official @e2b/code-interpreter SDK, resolved from
// tests/e2b/js/node_modules). Sandboxes are created without a template, so they come from the SDK's
// default template `code-interpreter-v1` (Cove: the `code-interpreter` template run.sh creates).
// COVE_URL/COVE_API_KEY reach Cove's native API for out-of-band checks and cleanup.
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Sandbox } from '@e2b/code-interpreter';

export const RUN_TAG = randomBytes(6).toString('hex');
export const uid = () => randomBytes(4).toString('hex');
export const T = { timeout: 180_000 }; // per-test limit: a hung stream fails the test, not the run

const created = new Set();

export async function nativeDelete(id) {
  try {
    await fetch(`${process.env.COVE_URL}/v1/sandboxes/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${process.env.COVE_API_KEY}` },
    });
  } catch {
    // best effort
  }
}

export async function nativeGet(path) {
  const res = await fetch(`${process.env.COVE_URL}${path}`, {
    headers: { authorization: `Bearer ${process.env.COVE_API_KEY}` },
  });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

export function track(id) {
  created.add(id);
  return id;
}

/** Code-interpreter Sandbox.create (no template); deleted when the test file ends. */
export async function newSandbox(opts = {}) {
  const sbx = await Sandbox.create({ timeoutMs: 300_000, metadata: { suite: 'e2b-ci-js', run: RUN_TAG }, ...opts });
  track(sbx.sandboxId);
  return sbx;
}

after(async () => {
  await Promise.all([...created].map(nativeDelete));
});

/** A variable name no other test in a shared kernel uses. */
export const name = (prefix = 'v') => `${prefix}_${uid()}`;

/** All stdout (or stderr) chunks of an execution, joined. */
export const out = (execution) => execution.logs.stdout.join('');
export const err = (execution) => execution.logs.stderr.join('');
