// Shared helpers of the JS suite. The SDK reads E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY from the
// environment tests/e2b/run.sh sets; COVE_URL/COVE_API_KEY reach Cove's native API for cleanup only,
// so sandboxes are deleted even when the E2B surface under test cannot kill them.
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Sandbox } from 'e2b';

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

export function track(id) {
  created.add(id);
  return id;
}

/** Sandbox.create with defaults; deleted when the test file ends. */
export async function newSandbox(opts = {}) {
  const sbx = await Sandbox.create({ timeoutMs: 300_000, ...opts });
  track(sbx.sandboxId);
  return sbx;
}

after(async () => {
  await Promise.all([...created].map(nativeDelete));
});

/** Polls fn until it returns a truthy value; throws after timeoutMs. */
export async function poll(fn, { timeoutMs = 60_000, intervalMs = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** All pages of Sandbox.list. */
export async function listAll(opts) {
  const paginator = Sandbox.list(opts);
  const items = [];
  let pages = 0;
  while (paginator.hasNext) {
    items.push(...(await paginator.nextItems()));
    pages += 1;
    if (pages > 100) throw new Error('paginator does not end');
  }
  return { items, pages };
}
