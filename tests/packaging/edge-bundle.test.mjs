// Bundle loading at the edge: from the origin's GET /v1/bundle with ETag
// revalidation in the background, from a KV namespace, a Fetcher (static assets) and
// bytes; a failed refresh (HTTP 500, a network error, a bundle that does not decode)
// keeps the last good bundle. In Node and in workerd, against a local origin whose
// bundle changes and then fails.
import test from 'node:test';
import assert from 'node:assert/strict';
import { handle } from 'slotwise/worker';
import { fixtureBytes, serve, startWorker } from './helpers.mjs';
import { bare, eventually, FILLED, holdoutBytes, ORIGINAL } from './edge-helpers.mjs';

// Bundle A (the shop) fills the recs; bundle B (the same shop, everyone held out)
// leaves the page as the origin sent it: the page says which one served it.
const A = Buffer.from(fixtureBytes());
const B = Buffer.from(holdoutBytes());
const arrayBuffer = (buf) => new Uint8Array(buf).buffer;
const served = (html) => (html === FILLED ? 'A' : html === ORIGINAL ? 'B' : `unexpected page: ${html.slice(0, 200)}`);

/**
 * The origin: the page, and a bundle whose state the test sets: `{ bytes, etag }`,
 * `'down'` (HTTP 500), `'reset'` (the connection is dropped: a network error) or
 * `'corrupt'` (a truncated bundle). `bundleRequests` records each If-None-Match.
 */
async function changingOrigin() {
  const state = { bundle: { bytes: A, etag: '"a"' }, bundleRequests: [] };
  const server = await serve({}, {
    '/': { type: 'text/html; charset=utf-8', body: ORIGINAL },
    '/v1/bundle': (req, res) => {
      state.bundleRequests.push(req.headers['if-none-match'] ?? null);
      const b = state.bundle;
      if (b === 'down') {
        res.writeHead(500);
        return res.end('bundle store unavailable');
      }
      if (b === 'reset') return req.socket.destroy();
      if (b === 'corrupt') {
        res.writeHead(200, { etag: '"corrupt"' });
        return res.end(A.subarray(0, 200));
      }
      if (req.headers['if-none-match'] === b.etag) {
        res.writeHead(304, { etag: b.etag });
        return res.end();
      }
      res.writeHead(200, { etag: b.etag, 'content-type': 'application/vnd.slotwise.bundle' });
      res.end(b.bytes);
    },
  });
  return { ...server, state };
}

/**
 * The revalidation story, through `page()` (one request, resolves to which bundle
 * served it, after its background work is done or seen by the origin).
 */
async function checkRevalidation(page, origin) {
  const { state } = origin;
  const asked = () => state.bundleRequests.length;
  // First request: loads A (no ETag yet).
  assert.equal(await page(), 'A');
  assert.deepEqual(state.bundleRequests, [null]);
  // TTL 0: each later request revalidates in the background, with the ETag; 304.
  assert.equal(await page(), 'A');
  await eventually(() => asked() === 2);
  assert.equal(state.bundleRequests[1], '"a"');
  // The origin publishes B: the request that finds out still gets A, the next B.
  state.bundle = { bytes: B, etag: '"b"' };
  assert.equal(await page(), 'A');
  await eventually(async () => (await page()) === 'B');
  // The origin fails, in every way: the last good bundle (B) stays.
  for (const failure of ['down', 'reset', 'corrupt']) {
    state.bundle = failure;
    const before = asked();
    assert.equal(await page(), 'B', failure);
    await eventually(() => asked() > before);
    await new Promise((r) => setTimeout(r, 50)); // the failed refresh settles
    assert.equal(await page(), 'B', failure);
  }
  // It recovers with A: served again.
  state.bundle = { bytes: A, etag: '"a2"' };
  await eventually(async () => (await page()) === 'A');
}

test('edge bundle (Node): ETag revalidation in the background, failures keep the last good bundle', async () => {
  const origin = await changingOrigin();
  try {
    const env = { SLOTWISE_ORIGIN: origin.base, SLOTWISE_BUNDLE: `${origin.base}/v1/bundle`, SLOTWISE_BUNDLE_TTL: '0' };
    const page = async () => {
      const pending = [];
      const res = await handle(new Request('https://shop.example/'), env, { waitUntil: (p) => pending.push(p) });
      assert.equal(res.status, 200);
      const html = await res.text().then(bare);
      await Promise.all(pending);
      return served(html);
    };
    await checkRevalidation(page, origin);

    // With the default TTL (60 s) a loaded bundle is not asked for again.
    const url = `${origin.base}/v1/bundle?ttl`;
    const before = origin.state.bundleRequests.length;
    for (let i = 0; i < 3; i++) await (await handle(new Request('https://shop.example/'), { ...env, SLOTWISE_BUNDLE: url, SLOTWISE_BUNDLE_TTL: undefined })).text().then(bare);
    assert.equal(origin.state.bundleRequests.length, before + 1);

    // A first load that fails passes the page through with the reason; the origin is
    // not asked again at once.
    origin.state.bundle = 'down';
    const down = { ...env, SLOTWISE_BUNDLE: `${origin.base}/v1/bundle?down` };
    let res = await handle(new Request('https://shop.example/'), down);
    assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=bundle.fetch_failed');
    assert.equal(await res.text().then(bare), ORIGINAL);
    const afterFailure = origin.state.bundleRequests.length;
    res = await handle(new Request('https://shop.example/'), down);
    assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=bundle.fetch_failed');
    await res.text().then(bare);
    assert.equal(origin.state.bundleRequests.length, afterFailure);
  } finally {
    await origin.close();
  }
});

test('edge bundle (Node): KV namespace, Fetcher binding and bytes', async () => {
  const origin = await changingOrigin();
  try {
    const base = { SLOTWISE_ORIGIN: origin.base, SLOTWISE_BUNDLE_TTL: '0' };
    const page = async (env) => {
      const pending = [];
      const html = await (await handle(new Request('https://shop.example/'), env, { waitUntil: (p) => pending.push(p) })).text().then(bare);
      await Promise.all(pending);
      return served(html);
    };
    // KV: get(key, "arrayBuffer"); a changed value is picked up, a missing one keeps the last.
    const store = new Map([['bundle', A]]);
    const kv = { get: async (key, type) => (assert.equal(type, 'arrayBuffer'), store.has(key) ? new Uint8Array(store.get(key)).buffer : null) };
    const kvEnv = { ...base, SLOTWISE_BUNDLE: kv };
    assert.equal(await page(kvEnv), 'A');
    store.set('bundle', B);
    assert.equal(await page(kvEnv), 'A');
    assert.equal(await page(kvEnv), 'B');
    store.delete('bundle');
    assert.equal(await page(kvEnv), 'B');
    assert.equal(await page(kvEnv), 'B');
    const other = await handle(new Request('https://shop.example/'), { ...kvEnv, SLOTWISE_BUNDLE_KEY: 'nope', SLOTWISE_BUNDLE: { get: kv.get } });
    assert.equal(other.headers.get('x-slotwise'), 'passthrough; reason=bundle.fetch_failed');
    await other.text().then(bare);

    // A Fetcher (a static-assets binding): the path, with If-None-Match.
    const seen = [];
    const assets = {
      fetch: async (request) => {
        seen.push([new URL(request.url).pathname, request.headers.get('if-none-match')]);
        if (request.headers.get('if-none-match') === '"asset-1"') return new Response(null, { status: 304 });
        return new Response(A, { headers: { etag: '"asset-1"' } });
      },
    };
    assert.equal(await page({ ...base, SLOTWISE_BUNDLE: assets, SLOTWISE_BUNDLE_PATH: '/bundles/shop.swb' }), 'A');
    assert.equal(await page({ ...base, SLOTWISE_BUNDLE: assets, SLOTWISE_BUNDLE_PATH: '/bundles/shop.swb' }), 'A');
    assert.deepEqual(seen, [['/bundles/shop.swb', null], ['/bundles/shop.swb', '"asset-1"']]);

    // Bytes: decoded once.
    assert.equal(await page({ ...base, SLOTWISE_BUNDLE: new Uint8Array(B) }), 'B');
    assert.equal(await page({ ...base, SLOTWISE_BUNDLE: new Uint8Array(A).buffer }), 'A');
  } finally {
    await origin.close();
  }
});

test('edge bundle (workerd): revalidation against a changing origin, KV and a service binding', async () => {
  const origin = await changingOrigin();
  const workers = [];
  const start = async (bindings, options) => {
    const { mf } = await startWorker('worker.js', { SLOTWISE_ORIGIN: origin.base, SLOTWISE_BUNDLE_TTL: '0', ...bindings }, options);
    workers.push(mf);
    return mf;
  };
  try {
    const mf = await start({ SLOTWISE_BUNDLE: `${origin.base}/v1/bundle` });
    const page = async () => {
      const res = await mf.dispatchFetch('https://shop.example/');
      assert.equal(res.status, 200);
      return served(await res.text().then(bare));
    };
    await checkRevalidation(page, origin);

    // A KV namespace bound as SLOTWISE_BUNDLE.
    const kvWorker = await start({}, { kvNamespaces: ['SLOTWISE_BUNDLE'] });
    const kv = await kvWorker.getKVNamespace('SLOTWISE_BUNDLE');
    const kvPage = async () => served(await (await kvWorker.dispatchFetch('https://shop.example/')).text().then(bare));
    const missing = await kvWorker.dispatchFetch('https://shop.example/');
    assert.equal(missing.headers.get('x-slotwise'), 'passthrough; reason=bundle.fetch_failed');
    await missing.text().then(bare);
    await new Promise((r) => setTimeout(r, 1100)); // the first-load retry pause
    await kv.put('bundle', arrayBuffer(A));
    assert.equal(await kvPage(), 'A');
    await kv.put('bundle', arrayBuffer(B));
    await eventually(async () => (await kvPage()) === 'B');

    // A service binding (as a static-assets binding is): If-None-Match on the way.
    const seen = [];
    const svc = await start({ SLOTWISE_BUNDLE_PATH: '/shop.swb' }, {
      serviceBindings: {
        SLOTWISE_BUNDLE: async (request) => {
          seen.push(request.headers.get('if-none-match'));
          if (request.headers.get('if-none-match') === '"s1"') return new Response(null, { status: 304 });
          return new Response(B, { headers: { etag: '"s1"' } });
        },
      },
    });
    assert.equal(served(await (await svc.dispatchFetch('https://shop.example/')).text().then(bare)), 'B');
    assert.equal(served(await (await svc.dispatchFetch('https://shop.example/')).text().then(bare)), 'B');
    await eventually(() => seen.length === 2);
    assert.deepEqual(seen, [null, '"s1"']);
  } finally {
    for (const w of workers) await w.dispose();
    await origin.close();
  }
});
