// The variant cache in workerd (caches.default through miniflare) and in Node (a
// Cache-API-like map): visitors without history in the same variant and context get
// the same key, and the second is served from the edge cache (the origin is not
// asked again) with its own impressions; a visitor with history gets a private page
// that is never cached.
import test from 'node:test';
import assert from 'node:assert/strict';
import { handle, Slotwise } from 'slotwise/worker';
import { fixtureBytes, serve, startWorker } from './helpers.mjs';
import { bare, eventually, FILLED, handoffOf, ORIGINAL } from './edge-helpers.mjs';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

async function startOrigin() {
  let pages = 0;
  const signals = [];
  const server = await serve({}, {
    '/': (req, res) => {
      pages++;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=60' });
      res.end(ORIGINAL);
    },
    '/v1/bundle': { body: Buffer.from(fixtureBytes()) },
    '/v1/signals': (req, res) => {
      req.resume();
      req.on('end', () => {
        signals.push(1);
        res.writeHead(202);
        res.end();
      });
    },
  });
  return { ...server, pages: () => pages, signals };
}

async function runnerSession() {
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  const v = sw.visitor({ consent: { personalization: true } });
  v.track({ type: 'view', category: 'running-shoes' });
  return Buffer.from(v.sessionBytes()).toString('base64url');
}

const keyOf = (res) => /key=([0-9a-f]+)/.exec(res.headers.get('x-slotwise') ?? '')?.[1];
const variantsOf = (html) => {
  const h = handoffOf(html);
  const out = [];
  for (let at = 0; at < h.d.length; at += 10 + h.d[at + 8] + h.d[at + 9 + h.d[at + 8]]) out.push(`${h.d[at + 4]}.${h.d[at + 5]}`);
  return out.join(',');
};

async function checkCache(fetchPage, origin) {
  const get = (headers = {}) => fetchPage('/', { headers: { 'user-agent': CHROME, cookie: 'sw_consent=measurement', ...headers } });
  // The first visitor: filled, stored.
  let res = await get();
  const first = await res.text();
  assert.match(res.headers.get('x-slotwise'), /^filled; cache=miss; key=[0-9a-f]{32}$/);
  assert.equal(res.headers.get('cache-control'), 'private, max-age=60');
  assert.equal(bare(first), FILLED);
  const key = keyOf(res);
  await new Promise((r) => setTimeout(r, 200)); // the cache.put after the response
  const pagesBefore = origin.pages();
  // Other visitors: those in the first one's variant get its key and the cached page
  // (the origin is not asked); the others another key.
  let hits = 0;
  for (let i = 0; i < 12; i++) {
    res = await get();
    const html = await res.text();
    if (keyOf(res) === key) {
      hits++;
      assert.match(res.headers.get('x-slotwise'), /^filled; cache=hit; key=/);
      assert.equal(html, first, 'the same page, byte for byte');
      assert.equal(res.headers.get('cache-control'), 'private, max-age=60');
      assert.equal(res.headers.get('set-cookie'), null);
    } else {
      assert.notEqual(variantsOf(html), variantsOf(first), 'another key only for another variant');
    }
  }
  assert.ok(hits > 0, 'some visitor shared the first one\'s variant');
  assert.ok(origin.pages() - pagesBefore <= 12 - hits, 'hits did not ask the origin');
  // Each page view, hit or not, sent its impressions.
  await eventually(() => origin.signals.length === 13);

  // Another context (a phone): another key.
  res = await get({ 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148' });
  await res.text();
  assert.notEqual(keyOf(res), key);

  // A visitor with history: private, never cached (no key), the origin asked each time.
  const session = await runnerSession();
  for (let i = 0; i < 2; i++) {
    const before = origin.pages();
    res = await get({ cookie: `sw_consent=personalization,measurement; sw_session=${session}` });
    await res.text();
    assert.equal(res.headers.get('x-slotwise'), 'filled');
    assert.equal(res.headers.get('cache-control'), 'private, max-age=60');
    assert.match(res.headers.get('set-cookie') ?? '', /^sw_session=/);
    assert.equal(origin.pages(), before + 1);
  }
}

/** A Cache-API-like store for Node (match / put by URL). */
function memoryCache() {
  const entries = new Map();
  return {
    async match(req) {
      const e = entries.get(req.url);
      return e ? new Response(e.body, { status: e.status, headers: e.headers }) : undefined;
    },
    async put(req, res) {
      entries.set(req.url, { body: await res.arrayBuffer(), status: res.status, headers: res.headers });
    },
  };
}

test('variant cache (Node): same variant and context share a cached page; history stays private', async () => {
  const origin = await startOrigin();
  try {
    const env = { SLOTWISE_ORIGIN: origin.base, SLOTWISE_BUNDLE: `${origin.base}/v1/bundle`, SLOTWISE_SIGNALS: `${origin.base}/v1/signals`, SLOTWISE_VARIANT_CACHE_TTL: '60' };
    const cache = memoryCache();
    const ctx = { waitUntil: () => {} };
    await checkCache((p, init) => handle(new Request(`https://shop.example${p}`, init), env, ctx, { cache }), origin);
  } finally {
    await origin.close();
  }
});

test('variant cache (workerd, caches.default): the same, through the repo worker', async () => {
  const origin = await startOrigin();
  const { mf } = await startWorker('worker.js', {
    SLOTWISE_ORIGIN: origin.base, SLOTWISE_BUNDLE: `${origin.base}/v1/bundle`, SLOTWISE_SIGNALS: `${origin.base}/v1/signals`, SLOTWISE_VARIANT_CACHE_TTL: '60',
  });
  try {
    await checkCache((p, init) => mf.dispatchFetch(`https://shop.example${p}`, init), origin);
  } finally {
    await mf.dispose();
    await origin.close();
  }
});
