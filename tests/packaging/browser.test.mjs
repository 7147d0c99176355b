// Browser consumer: a plain <script type="module"> page importing the installed
// package's browser entry, in Debian's Chromium driven by playwright-core.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { here, fixtureBytes, serve, checkShopDecisions } from './helpers.mjs';

const PAGE = (bundleUrl) => `<!doctype html><meta charset="utf-8"><title>slotwise fixture</title>
<div data-slotwise-slot="hero">default hero</div>
<script type="module">
  import { Slotwise } from '/pkg/browser.js';
  try {
    const sw = await Slotwise.load({ bundle: ${JSON.stringify(bundleUrl)} });
    const d = sw.decide({ slots: ['hero', 'nope', 'offer'] });
    window.result = { d, error: sw.error && sw.error.code, why: sw.explain(d.hero) };
  } catch (e) {
    window.result = { thrown: String(e) };
  }
</script>`;

test('browser: a module script loads the bundle and decides', async () => {
  const server = await serve(
    { '/pkg/': path.join(here, 'node_modules', 'slotwise') },
    {
      '/bundle.swb': { body: Buffer.from(fixtureBytes()) },
      '/corrupt.swb': { body: Buffer.from('SWB1\u0001garbage') },
      '/ok.html': { type: 'text/html', body: PAGE('/bundle.swb') },
      '/corrupt.html': { type: 'text/html', body: PAGE('/corrupt.swb') },
    },
  );
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.base}/ok.html`);
    const ok = await page.waitForFunction(() => window.result).then((h) => h.jsonValue());
    assert.equal(ok.thrown, undefined);
    assert.equal(ok.error, null);
    checkShopDecisions(assert, ok.d);
    assert.equal(ok.why.code, 'default');

    await page.goto(`${server.base}/corrupt.html`);
    const bad = await page.waitForFunction(() => window.result).then((h) => h.jsonValue());
    assert.equal(bad.error, 'bundle.truncated');
    assert.equal(bad.d.hero.content, null);
    assert.equal(bad.d.hero.reason, 'no_bundle');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
