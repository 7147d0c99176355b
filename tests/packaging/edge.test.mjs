// The edge handler (`slotwise/worker`) against a local origin on loopback: in workerd
// (the repo's worker/worker.js bundled by esbuild, run by miniflare) and in Node's
// Web-standard Request/Response (the stand-in for Deno, Vercel, Netlify...). The same
// checks run in both.
import test from 'node:test';
import assert from 'node:assert/strict';
import { handle, Slotwise } from 'slotwise/worker';
import { fixtureBytes, startWorker } from './helpers.mjs';
import {
  bare, eventually, FILLED, firstSignalConsent, HERO_DEFAULT, JACKET, ORIGINAL, page, ROAD, snippets, startOrigin, TRAIL,
} from './edge-helpers.mjs';

/** tests/vectors/tcf.json "all purposes, vendor 755": every purpose consented. */
const ALL_PURPOSES_TCF = 'CQuNtqAQuNtqAEsAHBENCWEoAP_AAEPAAAYgF5wAQF5gXnABAXmAAAAA.IAAA.YAAAAAAAAAAA';

/** A stored session that viewed running shoes twice (the hero's `runners` rule). */
async function runnerSession() {
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  const v = sw.visitor({ consent: { personalization: true } });
  v.track({ type: 'view', category: 'running-shoes' });
  v.track({ type: 'view', category: 'running-shoes' });
  return Buffer.from(v.sessionBytes()).toString('base64url');
}

/** Origin statuses and content types the worker must not touch. */
async function checkPassThrough(fetchPage) {
  let res = await fetchPage('/missing');
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=status');
  assert.equal(await res.text().then(bare), '<div data-slotwise-slot="hero">404 page</div>');

  res = await fetchPage('/broken');
  assert.equal(res.status, 500);
  assert.equal(await res.text().then(bare), 'origin error');

  res = await fetchPage('/doc.pdf');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=content_type');
  assert.equal(await res.text().then(bare), '%PDF-1.4 <div data-slotwise-slot="hero">');
}

/**
 * Every kind of visitor through `fetchPage(path, init)`, with the origin's
 * recordings: the env has SLOTWISE_KEYS (the fixture key) and SLOTWISE_SIGNALS.
 */
async function checkVisitors(fetchPage, origin) {
  const get = (cookie, headers = {}) => fetchPage('/', { headers: { ...(cookie ? { cookie } : {}), ...headers } });
  const { valid, expired, otherAudience } = snippets();

  // Anonymous: the featured recs, the rest of the page as it was.
  let res = await get(null);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-slotwise'), 'filled');
  assert.equal(res.headers.get('cache-control'), 'private');
  assert.equal(res.headers.get('vary'), 'Cookie, Sec-GPC, User-Agent, Accept-Language');
  assert.equal(res.headers.get('content-length'), null);
  assert.equal(res.headers.get('set-cookie'), null, 'nothing stored without consent');
  assert.equal(await res.text().then(bare), FILLED);

  // A session that viewed running shoes, with consent: the hero's rule applies, and
  // the updated session goes back in a cookie (no item twice on a page: the recs
  // move on).
  const session = await runnerSession();
  res = await get(`sw_consent=personalization; sw_session=${session}`);
  assert.equal(res.status, 200);
  assert.equal(await res.text().then(bare), page(TRAIL, 'Free shipping', ROAD + JACKET));
  assert.match(res.headers.get('set-cookie') ?? '', /^sw_session=[A-Za-z0-9_-]+; Path=\/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax$/);

  // The same session without consent is neither read nor kept: the cookie is deleted.
  res = await get(`sw_consent=-personalization; sw_session=${session}`);
  assert.equal(await res.text().then(bare), FILLED);
  assert.match(res.headers.get('set-cookie') ?? '', /^sw_session=; Path=\/; Max-Age=0/);

  // Session + a valid snippet claiming the trail runner was bought: it is shown
  // nowhere (the hero keeps its default; the recs move on to the next items). The
  // second time the verified snippet comes from the isolate's cache.
  const both = `sw_consent=personalization; sw_session=${session}; sw_profile=${valid}`;
  res = await get(both);
  assert.equal(res.headers.get('x-slotwise'), 'filled; snippet=verified');
  assert.equal(await res.text().then(bare), page(HERO_DEFAULT, 'Free shipping', ROAD + JACKET));
  res = await get(both);
  assert.equal(res.headers.get('x-slotwise'), 'filled; snippet=cached');
  assert.equal(await res.text().then(bare), page(HERO_DEFAULT, 'Free shipping', ROAD + JACKET));
  // Without personalization consent the snippet is not even looked at.
  res = await get(`sw_profile=${valid}`);
  assert.equal(res.headers.get('x-slotwise'), 'filled');
  assert.equal(await res.text().then(bare), FILLED);

  // Adversarial cookies: garbage, oversized, forged / expired / foreign snippets give
  // the default page, status 200 (the reason in the debugging header).
  for (const [cookie, note] of [
    ['sw_consent=personalization; sw_session=%%%garbage%%%', 'session=unreadable'],
    [`sw_consent=personalization; sw_session=${'A'.repeat(5000)}`, null],
    ['sw_consent=personalization; sw_session=U1dTMQE; sw_profile=', null],
    ['sw_consent=personalization; sw_profile=forged.snippet.token', 'snippet=snippet.malformed'],
    [`sw_consent=personalization; sw_profile=${valid.slice(0, -4)}AAAA`, 'snippet=snippet.bad_signature'],
    [`sw_consent=personalization; sw_profile=${expired}`, 'snippet=snippet.expired'],
    [`sw_consent=personalization; sw_profile=${otherAudience}`, 'snippet=snippet.wrong_audience'],
    [`sw_consent=personalization; sw_profile=${'x'.repeat(4000)}`, 'snippet=snippet.malformed'],
    ['=; ;;; sw_session', null],
    [`sw_consent=personalization; sw_profile=${'a'.repeat(12000)}`, null],
  ]) {
    res = await get(cookie);
    assert.equal(res.status, 200, cookie.slice(0, 80));
    assert.equal(await res.text().then(bare), FILLED, cookie.slice(0, 80));
    if (note) assert.equal(res.headers.get('x-slotwise'), `filled; ${note}`, cookie.slice(0, 80));
  }

  // GPC: a CMP's TC string granting every purpose gives advertising consent, unless
  // the browser sends Sec-GPC: 1 (impressions carry the consent bits: necessary 1,
  // personalization 2, measurement 4, advertising 8). Only the visitor's own choice
  // for this site (the sw_consent cookie) may opt back in.
  const tcf = `euconsent-v2=${ALL_PURPOSES_TCF}`;
  origin.signals.length = 0;
  await (await get(tcf)).text().then(bare);
  await eventually(() => origin.signals.length === 1);
  assert.equal(origin.signals[0].type, 'application/vnd.slotwise.signals');
  assert.equal(firstSignalConsent(origin.signals[0].body), 1 | 2 | 4 | 8);
  await (await get(tcf, { 'sec-gpc': '1' })).text().then(bare);
  await eventually(() => origin.signals.length === 2);
  assert.equal(firstSignalConsent(origin.signals[1].body), 1 | 2 | 4);
  await (await get('sw_consent=measurement,advertising', { 'sec-gpc': '1' })).text().then(bare);
  await eventually(() => origin.signals.length === 3);
  assert.equal(firstSignalConsent(origin.signals[2].body), 1 | 4 | 8);
  // No measurement consent, no signal.
  await (await get('sw_consent=advertising')).text().then(bare);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(origin.signals.length, 3);

  // Caching: the origin is asked without Slotwise's per-visitor cookies (its page
  // stays cacheable); the personalized answer is private, drops the origin's ETag and
  // shared-cache directives and adds to its Vary.
  origin.seen.length = 0;
  res = await fetchPage('/cached', { headers: { cookie: `theme=dark; sw_consent=personalization; sw_session=${session}; sw_profile=${valid}` } });
  assert.equal(res.headers.get('cache-control'), 'private, max-age=300');
  assert.equal(res.headers.get('etag'), null);
  assert.equal(res.headers.get('vary'), 'Accept-Encoding, Cookie, Sec-GPC, User-Agent, Accept-Language');
  await res.text().then(bare);
  const asked = origin.seen.find((r) => r.url === '/cached');
  assert.equal(asked.cookie, 'theme=dark; sw_consent=personalization');
  // A compressed page: fetch decodes it, the slots are filled, and the answer no
  // longer claims an encoding it does not have.
  res = await fetchPage('/gzip');
  assert.equal(res.headers.get('x-slotwise'), 'filled');
  assert.equal(res.headers.get('content-encoding'), null);
  assert.equal(await res.text().then(bare), FILLED);
  // A page passed through keeps the origin's headers as they are.
  res = await fetchPage('/missing', { headers: { cookie: `sw_session=${session}` } });
  assert.equal(res.headers.get('cache-control'), null);
  await res.text().then(bare);
}

/** A visitor in the holdout gets the origin's page as it is (every slot's default). */
async function checkHoldout(fetchPage) {
  const res = await fetchPage('/', { headers: { cookie: `sw_consent=personalization; sw_session=${await runnerSession()}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-slotwise'), 'filled');
  assert.equal(await res.text().then(bare), ORIGINAL);
}

test('edge (Node Request/Response): visitors, pass-through, holdout', async () => {
  const origin = await startOrigin();
  try {
    const { keys } = snippets();
    const env = {
      SLOTWISE_ORIGIN: origin.base,
      SLOTWISE_BUNDLE: `${origin.base}/v1/bundle`,
      SLOTWISE_KEYS: JSON.stringify(keys),
      SLOTWISE_SIGNALS: `${origin.base}/v1/signals`,
    };
    const ctx = { waitUntil: () => {} };
    const fetchPage = (p, init) => handle(new Request(`https://shop.example${p}`, init), env, ctx);
    await checkPassThrough(fetchPage);
    await checkVisitors(fetchPage, origin);
    await checkHoldout((p, init) => handle(new Request(`https://shop.example${p}`, init), { ...env, SLOTWISE_BUNDLE: `${origin.base}/v1/holdout` }));

    // A broken bundle: the origin page goes out untouched, with the reason.
    const bad = await handle(new Request('https://shop.example/'), { ...env, SLOTWISE_BUNDLE: `${origin.base}/v1/corrupt` });
    assert.equal(bad.status, 200);
    assert.equal(bad.headers.get('x-slotwise'), 'passthrough; reason=bundle.truncated');
    assert.equal(await bad.text().then(bare), ORIGINAL);
    // No bundle configured at all.
    const none = await handle(new Request('https://shop.example/'), { SLOTWISE_ORIGIN: origin.base });
    assert.equal(none.headers.get('x-slotwise'), 'passthrough; reason=no_bundle_configured');
    assert.equal(await none.text().then(bare), ORIGINAL);
    // Without ctx.waitUntil nothing is sent (nothing may outlive the response).
    origin.signals.length = 0;
    await (await handle(new Request('https://shop.example/', { headers: { cookie: 'sw_consent=measurement' } }), env)).text().then(bare);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(origin.signals.length, 0);
  } finally {
    await origin.close();
  }
});

test('edge (workerd): the repo worker, the same visitors, pass-through and holdout', async () => {
  const origin = await startOrigin();
  const { keys } = snippets();
  const bindings = {
    SLOTWISE_ORIGIN: origin.base,
    SLOTWISE_BUNDLE: `${origin.base}/v1/bundle`,
    SLOTWISE_KEYS: JSON.stringify(keys),
    SLOTWISE_SIGNALS: `${origin.base}/v1/signals`,
  };
  const workers = [];
  const start = async (b) => {
    const { mf } = await startWorker('worker.js', b);
    workers.push(mf);
    return (p, init) => mf.dispatchFetch(`https://shop.example${p}`, init);
  };
  try {
    const fetchPage = await start(bindings);
    await checkPassThrough(fetchPage);
    await checkVisitors(fetchPage, origin);
    await checkHoldout(await start({ ...bindings, SLOTWISE_BUNDLE: `${origin.base}/v1/holdout` }));
    const bad = await (await start({ ...bindings, SLOTWISE_BUNDLE: `${origin.base}/v1/corrupt` }))('/');
    assert.equal(bad.status, 200);
    assert.equal(bad.headers.get('x-slotwise'), 'passthrough; reason=bundle.truncated');
    assert.equal(await bad.text().then(bare), ORIGINAL);
  } finally {
    for (const mf of workers) await mf.dispose();
    await origin.close();
  }
});
