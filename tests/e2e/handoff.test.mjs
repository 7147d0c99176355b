// The edge → browser handoff in Chromium: a page the edge handler (slotwise/worker,
// Node entry) filled is hydrated by the browser SDK with zero changes inside its
// slots (a MutationObserver installed before the SDK loads counts them), `explain`
// gives the human sentence for an edge decision, and each impression is counted once
// at the origin (the edge sent them with waitUntil; the browser sends none). Then a
// click that navigates away still delivers its signal (pagehide flush, with consent),
// and after a back/forward-cache restore the queue keeps flushing.
// Needs PACKAGING_DIR (the installed package and its fixture bundle).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

const packaging = process.env.PACKAGING_DIR;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const SLOTS = `<div data-slotwise-slot="hero"><h1>Default hero</h1></div>
<section data-slotwise-slot="offer">Free shipping</section>
<aside data-slotwise-slot="recs"><ul><li>a</li></ul></aside>
<a id="away" href="/away">leave</a>`;

// The page's own script: observe the slots before the SDK exists, then load,
// hydrate and report.
const APP = `
const mutations = [];
const observer = new MutationObserver((list) => {
  for (const m of list) mutations.push({ type: m.type, attr: m.attributeName, slot: (m.target.closest ? m.target : m.target.parentElement).closest('[data-slotwise-slot]')?.dataset.slotwiseSlot });
});
for (const el of document.querySelectorAll('[data-slotwise-slot]')) observer.observe(el, { subtree: true, childList: true, characterData: true, attributes: true });
const before = [...document.querySelectorAll('[data-slotwise-slot]')].map((el) => el.innerHTML);
const { Slotwise } = await import('/pkg/browser.js');
const sw = await Slotwise.load({ bundle: '/v1/bundle', consent: { personalization: true, measurement: true }, signals: { endpoint: "/v1/signals", flushAfterMs: 60000 } });
const h = sw.hydrate(document);
await new Promise((r) => setTimeout(r, 0));
const after = [...document.querySelectorAll('[data-slotwise-slot]')].map((el) => el.innerHTML);
window.result = {
  mutations: mutations.concat(observer.takeRecords().map((m) => ({ type: m.type, attr: m.attributeName }))),
  same: before.every((html, i) => html === after[i]),
  recs: { reason: h.decisions.recs.reason, items: h.decisions.recs.items, decisionId: h.decisions.recs.decisionId },
  explain: sw.explain(h.decisions.recs),
};
window.sw = sw;
window.hydration = h;
document.getElementById('away').addEventListener('click', () => sw.click(h.decisions.recs));
addEventListener('pageshow', (e) => { if (e.persisted) window.restored = true; });
`;

/** Signals in an SWG1 batch: its count (a varint after the 5-byte header). */
function signalCount(batch) {
  let n = 0;
  let shift = 0;
  for (let at = 5; ; at++) {
    n |= (batch[at] & 0x7f) << shift;
    if (!(batch[at] & 0x80)) return n;
    shift += 7;
  }
}

/** Kinds of the signals in a batch are not decoded here: impressions are counted by batch source. */
async function start() {
  const { handle } = await import(path.join(packaging, 'node_modules/slotwise/node.js'));
  const pkgDir = path.join(packaging, 'node_modules/slotwise');
  const bundle = fs.readFileSync(path.join(packaging, 'fixtures/shop.swb'));
  const batches = []; // { from: 'edge' | 'browser', count }
  const page = `<!doctype html><html><head><title>Shop</title></head><body>${SLOTS}<script type="module" src="/app.mjs"></script></body></html>`;
  const originServer = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x').pathname;
    if (url === '/' || url === '/away') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(url === '/' ? page : '<!doctype html><p>away</p>');
    }
    if (url === '/app.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(APP);
    }
    if (url === '/v1/bundle') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(bundle);
    }
    if (url === '/v1/signals' && req.method === 'POST') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        batches.push({ from: req.headers['x-from'] ?? 'browser', count: signalCount(Buffer.concat(chunks)) });
        res.writeHead(202);
        res.end();
      });
      return;
    }
    if (url.startsWith('/pkg/')) {
      const file = path.join(pkgDir, path.basename(url));
      if (fs.existsSync(file)) {
        res.writeHead(200, { 'content-type': file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' });
        return res.end(fs.readFileSync(file));
      }
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => originServer.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${originServer.address().port}`;
  const pending = [];
  const env = { SLOTWISE_ORIGIN: origin, SLOTWISE_BUNDLE: `${origin}/v1/bundle`, SLOTWISE_SIGNALS: `${origin}/v1/signals` };
  // The edge marks its own signal POSTs so the origin can tell who counted what.
  const edgeFetch = (input, init) => (init?.method === 'POST'
    ? fetch(input, { ...init, headers: { ...init.headers, 'x-from': 'edge' } })
    : fetch(input, init));
  const edgeServer = http.createServer(async (req, res) => {
    const url = `http://${req.headers.host}${req.url}`;
    if (req.method === 'POST') {
      // Signals from the browser go straight to the origin (the edge passes POSTs through).
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const r = await fetch(new URL(req.url, origin), { method: 'POST', body: Buffer.concat(chunks), headers: { 'content-type': req.headers['content-type'] ?? '' } });
      res.writeHead(r.status);
      return res.end();
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const response = await handle(new Request(url, { method: req.method, headers }), env, { waitUntil: (p) => pending.push(p) }, { fetch: edgeFetch });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) for await (const chunk of response.body) res.write(chunk);
    res.end();
  });
  await new Promise((r) => edgeServer.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${edgeServer.address().port}`,
    batches,
    settled: () => Promise.all(pending),
    close: () => Promise.all([originServer, edgeServer].map((s) => new Promise((r) => s.close(r)))),
  };
}

test('an edge-filled page hydrates without a change in its slots; explain works; impressions counted once; signals survive navigation and bfcache', async () => {
  assert.ok(packaging, 'PACKAGING_DIR is not set: run through cargo xtask test');
  const servers = await start();
  // Playwright turns the back/forward cache off by default; this test needs it.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ARGS, ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
  try {
    // A visitor's browser: headless Chromium names itself HeadlessChrome, which the
    // edge classifies as a bot (bots.js) and leaves unpersonalized.
    const context = await browser.newContext({
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      extraHTTPHeaders: { 'sec-ch-ua': '"Chromium";v="131", "Not_A Brand";v="24"' },
    });
    const host = new URL(servers.base).hostname;
    await context.addCookies([{ name: 'sw_consent', value: 'personalization,measurement', domain: host, path: '/' }]);
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${servers.base}/`);
    await page.waitForFunction(() => window.result);
    const result = await page.evaluate(() => window.result);
    const html = await page.content();
    assert.ok(html.includes('application/slotwise+json'), 'the edge handed its decisions over');
    assert.match(await page.$eval('[data-slotwise-slot="recs"]', (el) => el.innerHTML), /slotwise-item/, 'the edge filled recs');

    // Zero changes inside the slots: no child or text mutation; only the SDK's state
    // attributes on the slot elements.
    assert.equal(result.same, true);
    const content = result.mutations.filter((m) => m.type !== 'attributes');
    assert.deepEqual(content, []);
    for (const m of result.mutations) assert.match(m.attr, /^data-slotwise-(state|reason|decision)$/);

    // The adopted decision explains itself with the engine's sentence.
    assert.equal(result.explain.code, result.recs.reason);
    assert.ok(result.explain.text.length > 20, result.explain.text);
    assert.notEqual(result.explain.text, 'Personalization is unavailable here; this is the page default.');

    // Impressions: the edge's batch counts one per shown item; the browser sends none.
    await servers.settled();
    await page.evaluate(() => window.sw.flush());
    await page.waitForTimeout(400);
    const edge = servers.batches.filter((b) => b.from === 'edge');
    assert.equal(edge.length, 1);
    assert.ok(edge[0].count >= result.recs.items.length && result.recs.items.length > 0);
    assert.deepEqual(servers.batches.filter((b) => b.from === 'browser'), [], 'no impression sent twice');

    // A click that navigates away: the click signal still arrives (pagehide flush).
    await Promise.all([page.waitForURL(`${servers.base}/away`), page.click('#away')]);
    const deadline = Date.now() + 3000;
    while (!servers.batches.some((b) => b.from === 'browser') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const sent = servers.batches.filter((b) => b.from === 'browser');
    assert.equal(sent.length, 1, 'the click went out as the page was left');
    assert.equal(sent[0].count, 1);

    // Back: the page comes out of the back/forward cache with its SDK alive, and the
    // queue's batching goes on (a click queued now is sent by the timer).
    await page.goBack({ waitUntil: 'commit' }); // a restore fires no load event
    await page.waitForFunction(() => window.restored === true, null, { timeout: 5000 });
    await page.evaluate(() => {
      window.sw.signalQueue.flushAfterMs = 100;
      window.sw.click(window.hydration.decisions.recs);
    });
    const until = Date.now() + 3000;
    while (servers.batches.filter((b) => b.from === 'browser').length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal(servers.batches.filter((b) => b.from === 'browser').length, 2, 'batching resumed after the bfcache restore');
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
    await servers.close();
  }
});
