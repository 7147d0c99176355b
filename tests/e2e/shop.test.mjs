// End-to-end: the demo shop served by `slotwise serve` (the origin), in Debian's
// Chromium driven by playwright-core. `cargo xtask test` builds the site and runs this
// with SLOTWISE_BIN, DEMO_SITE, DEMO_BUNDLE and E2E_OUT set (see xtask/src/test.rs).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through cargo xtask test`);
  return v;
};
const OUT = process.env.E2E_OUT ?? 'target/e2e';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let origin;
let base;
let browser;
let data;

before(async () => {
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'slotwise-e2e-'));
  origin = spawn(env('SLOTWISE_BIN'), ['serve', '--addr', '127.0.0.1:0', '--data-dir', data, '--www', env('DEMO_SITE'),
    '--bundle', env('DEMO_BUNDLE'), '--sync', 'normal'], { stdio: ['ignore', 'pipe', 'inherit'] });
  base = await new Promise((resolve, reject) => {
    let text = '';
    origin.stdout.on('data', (chunk) => {
      text += chunk;
      const m = /listening on (\S+)/.exec(text);
      if (m) resolve(`http://${m[1]}`);
    });
    origin.on('exit', (code) => reject(new Error(`slotwise serve exited (${code})`)));
  });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ARGS });
  fs.mkdirSync(OUT, { recursive: true });
});

after(async () => {
  await browser?.close();
  if (origin && origin.exitCode === null) {
    const exited = new Promise((resolve) => origin.once('exit', resolve));
    origin.kill();
    await exited;
  }
  if (data) fs.rmSync(data, { recursive: true, force: true });
});

/** A fresh visitor: its own storage and cookies; page errors fail the test. */
async function visitor() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const requests = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: new URL(r.url()).pathname }));
  return { context, page, errors, requests };
}

const ready = (page) => page.waitForFunction(() => document.documentElement.dataset.slotwise);
const slotState = (page, name) => page.$eval(`[data-slotwise-slot="${name}"]`, (el) => ({
  state: el.dataset.slotwiseState, reason: el.dataset.slotwiseReason, text: el.innerText,
  items: [...el.querySelectorAll('[data-slotwise-item]')].map((a) => a.dataset.slotwiseItem),
  visible: getComputedStyle(el).visibility === 'visible',
}));
const CATEGORY = (id) => id.split('-')[0];

/** Navigates inside the single-page shop (no reload), like a visitor's click. */
const spa = (page, href) => page.evaluate((h) => {
  const a = document.createElement('a');
  a.href = h;
  document.body.append(a);
  a.click();
  a.remove();
}, href);

test('browsing running-shoe pages changes the home page recommendations on the next view', async () => {
  const { context, page, errors } = await visitor();
  await page.goto(`${base}/`);
  await ready(page);
  await page.click('#consent-accept');
  const before = await slotState(page, 'recs');
  const heroBefore = await slotState(page, 'hero');
  assert.equal(before.reason, 'popular');
  assert.equal(heroBefore.reason, 'default');
  assert.equal(before.items.length, 4);

  // Two running-shoe product pages, as full page loads: the session is stored.
  for (const id of ['running-2', 'running-4']) {
    await page.goto(`${base}/p/${id}`);
    await ready(page);
  }
  await page.goto(`${base}/`);
  await ready(page);
  const after = await slotState(page, 'recs');
  const hero = await slotState(page, 'hero');
  assert.equal(after.reason, 'recommended');
  assert.notDeepEqual(after.items, before.items);
  const running = after.items.filter((id) => CATEGORY(id) === 'running').length;
  assert.ok(running >= 2, `mostly running shoes now: ${after.items}`);
  assert.ok(running > before.items.filter((id) => CATEGORY(id) === 'running').length);
  assert.equal(hero.reason, 'rule');
  assert.match(hero.text, /running shoe/i);
  await page.screenshot({ path: path.join(OUT, 'home.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test('rejecting consent: no storage, cookies or signal requests, slots still use the page context; accepting later stores and sends without a reload', async () => {
  const { context, page, errors, requests } = await visitor();
  await page.goto(`${base}/`);
  await ready(page);
  await page.evaluate(() => { window.sameDocument = true; });
  await page.click('#consent-reject');

  await spa(page, '/c/running-shoes');
  await page.waitForSelector('.page.category [data-slotwise-slot="promo"][data-slotwise-state]');
  const promo = await slotState(page, 'promo');
  assert.equal(promo.reason, 'rule', 'a context rule (category) picks the promo');
  assert.match(promo.text, /running shoe/i);
  await spa(page, '/p/running-1');
  await page.waitForSelector('.pdp');
  await page.click('.add');
  await spa(page, '/');
  await page.waitForSelector('.page.home');
  assert.equal((await slotState(page, 'recs')).reason, 'recommended', 'this page view adapts in memory');
  await page.waitForTimeout(1500); // longer than the queue's flush delay

  const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
  assert.deepEqual(stored, { local: 0, session: 0 });
  assert.deepEqual(await context.cookies(), []);
  const outbound = requests.filter((r) => r.url.startsWith('/v1/') && r.url !== '/v1/bundle');
  assert.deepEqual(outbound, [], 'only the bundle was fetched');
  const queue = await page.evaluate(() => window.slotwise.signalQueue.size);
  assert.deepEqual(queue, { queued: 0, pending: 0 }, 'nothing kept to send later either');

  // Accept later, in the same document.
  await page.click('#privacy-button');
  const sent = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/signals' && r.request().method() === 'POST');
  await page.click('#consent-accept');
  await spa(page, '/p/running-3');
  const response = await sent;
  assert.ok(response.ok(), `signals accepted: ${response.status()}`);
  // A click on a recommended product is a click signal for its decision.
  await page.evaluate(() => {
    const q = window.slotwise.signalQueue;
    const push = q.push.bind(q);
    window.kinds = [];
    q.push = (signal) => { window.kinds.push(signal.kind); return push(signal); };
  });
  await page.click('[data-slotwise-slot="similar"] .card >> nth=0');
  await page.waitForSelector('.pdp');
  assert.ok((await page.evaluate(() => window.kinds)).includes('click'));
  const local = await page.evaluate(() => Object.keys(localStorage).sort());
  assert.ok(local.includes('slotwise.session'), `the session is stored now: ${local}`);
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'no reload happened');
  assert.deepEqual(errors, []);
  await context.close();
});

test('per-purpose consent: measurement only sends signals and stores nothing', async () => {
  const { context, page, errors } = await visitor();
  await page.goto(`${base}/`);
  await ready(page);
  await page.click('#consent-choose');
  await page.check('#consent-form [name="measurement"]');
  const sent = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/signals' && r.request().method() === 'POST');
  await page.click('#consent-save');
  assert.deepEqual(await page.evaluate(() => window.slotwise.consent),
    { necessary: true, personalization: false, measurement: true, advertising: false });
  assert.ok((await sent).ok(), 'the impressions waiting for a decision are sent');
  await spa(page, '/p/hiking-1');
  await page.waitForSelector('.pdp');
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'no personalization: nothing stored');
  assert.deepEqual(await context.cookies(), []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a live slot re-decides in the same page as the visitor acts (in-session adaptation)', async () => {
  const { context, page, errors } = await visitor();
  await page.goto(`${base}/p/running-1`);
  await ready(page);
  await page.click('#consent-reject');
  await page.evaluate(() => { window.sameDocument = true; });
  const before = await slotState(page, 'basket');
  assert.equal(before.reason, 'default');
  await page.click('.add');
  await page.waitForSelector('[data-slotwise-slot="basket"][data-slotwise-reason="rule"]');
  assert.match((await slotState(page, 'basket')).text, /second pair of running shoes/);
  await page.click('[data-slotwise-slot="basket"] .why-button');
  assert.equal(await page.locator('#why .why-text').innerText(), 'Because there is a pair of running shoes in your cart.');
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'no reload happened');
  assert.deepEqual(errors, []);
  await context.close();
});

test('"Why this?" shows a human sentence for the slot', async () => {
  const { context, page, errors } = await visitor();
  await page.goto(`${base}/`);
  await ready(page);
  await page.click('#consent-accept');
  await spa(page, '/p/running-5');
  await page.waitForSelector('.pdp');
  await spa(page, '/p/running-6');
  await page.waitForSelector('.pdp h1:has-text("Drift")');
  await spa(page, '/');
  await page.waitForSelector('.page.home [data-slotwise-slot="hero"][data-slotwise-reason="rule"]');
  for (const [slot, sentence] of [['hero', /^Because you have been looking at running shoes\.$/], ['recs', /^Because you viewed [A-Z][\w ]+\.$/]]) {
    await page.click(`[data-slotwise-slot="${slot}"] .why-button`);
    const text = await page.locator('#why .why-text').innerText();
    assert.match(text, sentence);
    assert.ok(await page.locator('#why').isVisible());
    await page.keyboard.press('Escape');
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('a corrupt or missing bundle still renders every slot default', async () => {
  for (const bundle of ['/img/favicon.svg', '/no-such-bundle.swb']) {
    const { context, page, errors } = await visitor();
    await page.goto(`${base}/?bundle=${encodeURIComponent(bundle)}`);
    await ready(page);
    assert.match(await page.evaluate(() => document.documentElement.dataset.slotwise), /^error:bundle\./);
    for (const name of ['hero', 'recs', 'offer']) {
      const s = await slotState(page, name);
      assert.equal(s.state, 'default', name);
      assert.equal(s.reason, 'no_bundle', name);
      assert.ok(s.visible, `${name} is shown`);
    }
    assert.match((await slotState(page, 'hero')).text, /autumn collection/i);
    assert.match((await slotState(page, 'recs')).text, /Bestsellers/);
    await page.click('[data-slotwise-slot="hero"] .why-button');
    assert.match(await page.locator('#why .why-text').innerText(), /page default/);
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('no flicker: slots stay hidden while deciding, and show the default after the timeout', async () => {
  const { context, page, errors } = await visitor();
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/v1/bundle', async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-slotwise-slot="hero"]', { state: 'attached' });
  const early = await slotState(page, 'hero');
  assert.equal(early.visible, false, 'hidden while the bundle is on its way');
  await page.waitForTimeout(1200);
  const late = await slotState(page, 'hero');
  assert.equal(late.visible, true, 'the default shows after the timeout');
  assert.equal(late.state, undefined);
  assert.match(late.text, /autumn collection/i);
  release();
  await ready(page);
  assert.equal((await slotState(page, 'hero')).state, 'decided');
  assert.deepEqual(errors, []);
  await context.close();
});

test('preference centre: muting a category removes it from every slot at once, without a reload, and the next snippet carries it', async () => {
  const { context, page, errors, requests } = await visitor();
  await page.goto(`${base}/`);
  await ready(page);
  await page.click('#consent-accept');
  await page.waitForFunction(() => window.slotwise.profile?.ok === true);
  await page.evaluate(() => { window.sameDocument = true; });
  await page.click('#preferences-link');
  await page.waitForSelector('.prefs-categories');
  await page.waitForSelector('.page.preferences [data-slotwise-slot="recs"][data-slotwise-state]');
  const before = await slotState(page, 'recs');
  assert.equal(before.items.length, 4);
  // The category of the first suggestion: muting it must change the shelf.
  const category = await page.evaluate(async (id) => (await import('/catalogue.js')).PRODUCTS.find((p) => p.id === id).category, before.items[0]);
  const inCategory = await page.evaluate(async (c) => (await import('/catalogue.js')).PRODUCTS.filter((p) => p.category === c).map((p) => p.id), category);
  const shownInSlots = () => page.$$eval('[data-slotwise-slot] [data-slotwise-item]', (els) => els.map((e) => e.dataset.slotwiseItem));
  const muted = async () => (await shownInSlots()).filter((id) => inCategory.includes(id));
  assert.ok((await muted()).length > 0, 'the category is on screen before');

  // Hold the origin's answer: the device must apply the mute before it arrives.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/v1/preferences?**', async (route) => {
    if (route.request().method() === 'PUT') await held;
    await route.continue();
  });
  const saved = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/preferences' && r.request().method() === 'PUT');
  await page.check(`input[data-category="${category}"][value="mute"]`);
  await page.waitForFunction((ids) => [...document.querySelectorAll('[data-slotwise-slot] [data-slotwise-item]')]
    .every((e) => !ids.includes(e.dataset.slotwiseItem)), inCategory);
  const after = await slotState(page, 'recs');
  assert.equal(after.items.length, 4, `the shelf fell back to other items: ${after.items}`);
  assert.deepEqual(await muted(), []);
  assert.equal(requests.filter((r) => r.method === 'PUT').length, 1, 'the change is on its way, not answered yet');
  release();
  assert.ok((await saved).ok());
  await page.waitForFunction(() => /hidden everywhere/.test(document.querySelector('.prefs-status')?.textContent));
  await page.screenshot({ path: path.join(OUT, 'preferences.png'), fullPage: true });

  // Every slot on every page, still without a reload.
  for (const href of ['/', '/cart', '/p/jackets-2']) {
    await spa(page, href);
    await page.waitForFunction(() => document.querySelectorAll('[data-slotwise-slot]:not([data-slotwise-state])').length === 0);
    assert.deepEqual(await muted(), [], href);
  }
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'no reload happened');

  // The next snippet carries the mute: after a reload with the device's own copy of
  // the mutes removed, the snippet alone keeps the category away.
  const categories = (await page.evaluate(() => window.slotwise.preferences.get())).categories;
  await page.evaluate(() => localStorage.removeItem('slotwise.muted'));
  await page.goto(`${base}/`);
  await ready(page);
  await page.waitForFunction(() => window.slotwise.profile?.ok === true);
  const claims = await page.evaluate(async () => {
    const { snippetClaims } = await import('/debug.js');
    const r = await fetch(`/v1/snippet?id=anon:${window.slotwise.visitorId}`).then((x) => x.json());
    return snippetClaims(r.token);
  });
  assert.deepEqual(claims.muted, [categories.indexOf(category)]);
  await page.waitForFunction((ids) => [...document.querySelectorAll('[data-slotwise-slot] [data-slotwise-item]')]
    .every((e) => !ids.includes(e.dataset.slotwiseItem)), inCategory);
  assert.equal((await slotState(page, 'recs')).items.length, 4);
  assert.deepEqual(await muted(), []);
  await page.click('[data-slotwise-slot="recs"] .why-button');
  assert.equal(await page.locator('#why a[href="/preferences"]').count(), 1, 'the why-popover links to the preferences');
  assert.deepEqual(errors, []);
  await context.close();
});
