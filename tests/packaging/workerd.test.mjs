// Edge consumer: the worker is bundled by esbuild with the conditions wrangler uses
// (`workerd`, `worker`, `browser`), the .wasm and the bundle stay separate modules,
// and it runs in workerd through miniflare.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, checkShopDecisions } from './helpers.mjs';

test('workerd: the worker entry decides inside workerd', async () => {
  const { mf, source } = await startWorker('worker.mjs');
  assert.match(source, /from "\.\/slotwise_edge_bg\.wasm"/, 'the workerd entry was chosen');
  try {
    const res = await mf.dispatchFetch('http://shop.example/?slots=hero|nope|offer');
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.error, null);
    checkShopDecisions(assert, body.d);
    assert.equal(body.why.code, 'default');
  } finally {
    await mf.dispose();
  }
});
