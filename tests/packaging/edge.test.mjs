// The edge handler (`slotwise/worker`) against a local origin on loopback: in workerd
// (the repo's worker/worker.js bundled by esbuild, run by miniflare) and in Node's
// Web-standard Request/Response (the stand-in for Deno, Vercel, Netlify...).
import test from 'node:test';
import assert from 'node:assert/strict';
import { handle, Slotwise } from 'slotwise/worker';
import { fixtureBytes, serve, startWorker } from './helpers.mjs';

// The recs slot lists two items (its first two candidates, no rule applies).
const RECS = '<a class="slotwise-item" href="/p/sku-trail-1"><img class="slotwise-image" src="/img/sku-trail-1.svg" alt="Ridge trail runner"><strong class="slotwise-title">Ridge trail runner</strong><span class="slotwise-price">129.00</span></a>'
  + '<a class="slotwise-item" href="/p/sku-road-1"><img class="slotwise-image" src="/img/sku-road-1.svg" alt="Tempo road shoe"><strong class="slotwise-title">Tempo road shoe</strong><span class="slotwise-price">119.00</span></a>';

const page = (hero, offer, recs) => `<!doctype html><html><head><title>Shop</title>
<script>window.x = "</div><div data-slotwise-slot='hero'>";</script></head><body>
<!-- <div data-slotwise-slot="offer">commented</div> -->
<div class=slot data-slotwise-slot="hero">${hero}</div>
<section data-slotwise-slot='offer'>${offer}</section>
<div data-slotwise-slot="unknown">stays</div>
<aside data-slotwise-slot=recs>${recs}</aside>
<p>Ünïcödé text &amp; entities stay as they are.</p></body></html>`;
const HERO_DEFAULT = '<h1>Default hero</h1><div><div>nested</div></div>';
const ORIGINAL = page(HERO_DEFAULT, 'Free shipping', '<ul><li>a</li></ul>');
// An anonymous visitor: the hero's rules do not apply and the offer shows its default,
// so both keep the page's own markup; the recs slot gets its featured items.
const FILLED = page(HERO_DEFAULT, 'Free shipping', RECS);
const TRAIL = '<a class="slotwise-item" href="/p/sku-trail-1"><img class="slotwise-image" src="/img/sku-trail-1.svg" alt="Ridge trail runner"><strong class="slotwise-title">Ridge trail runner</strong><span class="slotwise-price">129.00</span></a>';

const received = [];
async function origin() {
  const bytes = Buffer.from(fixtureBytes());
  const html = { type: 'text/html; charset=utf-8' };
  return serve({}, {
    '/': { ...html, body: ORIGINAL },
    '/missing': { ...html, status: 404, body: '<div data-slotwise-slot="hero">404 page</div>' },
    '/broken': { ...html, status: 500, body: 'origin error' },
    '/doc.pdf': { type: 'application/pdf', body: '%PDF-1.4 <div data-slotwise-slot="hero">' },
    '/v1/bundle': { body: bytes },
    '/v1/corrupt': { body: bytes.subarray(0, 100) },
    '/v1/signals': (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        received.push({ type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(202);
        res.end();
      });
    },
  });
}

async function checkAll(fetchPage) {
  let res = await fetchPage('/');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-slotwise'), 'filled');
  assert.equal(res.headers.get('cache-control'), 'private');
  assert.equal(res.headers.get('content-length'), null);
  assert.equal(await res.text(), FILLED);

  res = await fetchPage('/missing');
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=status');
  assert.equal(await res.text(), '<div data-slotwise-slot="hero">404 page</div>');

  res = await fetchPage('/broken');
  assert.equal(res.status, 500);
  assert.equal(await res.text(), 'origin error');

  res = await fetchPage('/doc.pdf');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=content_type');
  assert.equal(await res.text(), '%PDF-1.4 <div data-slotwise-slot="hero">');
}

test('edge (Node Request/Response): fills slots while streaming, passes the rest through', async () => {
  const server = await origin();
  try {
    const env = { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` };
    await checkAll((p) => handle(new Request(`https://shop.example${p}`), env));
    // A broken bundle: the origin page goes out untouched, with the reason.
    const bad = await handle(new Request('https://shop.example/'), { ...env, SLOTWISE_BUNDLE: `${server.base}/v1/corrupt` });
    assert.equal(bad.status, 200);
    assert.equal(bad.headers.get('x-slotwise'), 'passthrough; reason=bundle.truncated');
    assert.equal(await bad.text(), ORIGINAL);
    // A visitor with consent and a session that viewed running shoes twice.
    const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
    const v = sw.visitor({ consent: { personalization: true } });
    v.track({ type: 'view', category: 'running-shoes' });
    v.track({ type: 'view', category: 'running-shoes' });
    const cookie = `sw_consent=personalization; sw_session=${Buffer.from(v.sessionBytes()).toString('base64url')}`;
    const personal = await handle(new Request('https://shop.example/', { headers: { cookie } }), env);
    assert.equal(personal.status, 200);
    const html = await personal.text();
    assert.ok(html.includes(`<div class=slot data-slotwise-slot="hero">${TRAIL}</div>`), html);
    assert.match(personal.headers.get('set-cookie') ?? '', /^sw_session=[A-Za-z0-9_-]+; Path=\/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax/);
    // The same session without consent is neither read nor kept: the cookie is deleted.
    const revoked = await handle(new Request('https://shop.example/', { headers: { cookie: cookie.replace('personalization', '-personalization') } }), env);
    assert.equal(await revoked.text(), FILLED);
    assert.match(revoked.headers.get('set-cookie') ?? '', /^sw_session=; Path=\/; Max-Age=0/);
    // Adversarial cookies: garbage, oversized, forged snippet — the page, status 200.
    for (const bad of [
      'sw_consent=personalization; sw_session=%%%garbage%%%',
      `sw_consent=personalization; sw_session=${'A'.repeat(5000)}`,
      'sw_consent=personalization; sw_profile=forged.snippet.token',
      'sw_consent=personalization; sw_session=U1dTMQE; sw_profile=',
      '=; ;;; sw_session',
    ]) {
      const res = await handle(new Request('https://shop.example/', { headers: { cookie: bad } }), env);
      assert.equal(res.status, 200, bad);
      assert.equal(await res.text(), FILLED, bad);
    }
    // With measurement consent the page's impressions go to the origin after the response.
    const pending = [];
    const ctx = { waitUntil: (p) => pending.push(p) };
    received.length = 0;
    const measured = await handle(
      new Request('https://shop.example/', { headers: { cookie: 'sw_consent=measurement' } }),
      { ...env, SLOTWISE_SIGNALS: `${server.base}/v1/signals` }, ctx,
    );
    assert.equal(await measured.text(), FILLED);
    await Promise.all(pending);
    assert.equal(received.length, 1);
    assert.equal(received[0].type, 'application/vnd.slotwise.signals');
    assert.deepEqual([...received[0].body.subarray(0, 6)], [0x53, 0x57, 0x47, 0x31, 1, 2], 'SWG1 v1, the 2 recs items');
    // Without it, nothing is sent.
    pending.length = 0;
    await (await handle(new Request('https://shop.example/'), { ...env, SLOTWISE_SIGNALS: `${server.base}/v1/signals` }, ctx)).text();
    assert.equal(pending.length, 0);
    // No bundle configured at all.
    const none = await handle(new Request('https://shop.example/'), { SLOTWISE_ORIGIN: server.base });
    assert.equal(none.headers.get('x-slotwise'), 'passthrough; reason=no_bundle_configured');
    assert.equal(await none.text(), ORIGINAL);
  } finally {
    await server.close();
  }
});

const workerd = async (bindings) => (await startWorker('worker.js', bindings)).mf;

test('edge (workerd): the repo worker fills slots, and never breaks a page', async () => {
  const server = await origin();
  const mf = await workerd({ SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` });
  const bad = await workerd({ SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/corrupt` });
  try {
    await checkAll((p) => mf.dispatchFetch(`https://shop.example${p}`));
    const res = await bad.dispatchFetch('https://shop.example/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=bundle.truncated');
    assert.equal(await res.text(), ORIGINAL);
  } finally {
    await mf.dispose();
    await bad.dispose();
    await server.close();
  }
});
