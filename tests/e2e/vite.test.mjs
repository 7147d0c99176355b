// Bundler consumption: a Vite app importing the packed, installed `slotwise` package
// by its bare name, built with `vite build` and run in Chromium. Its bundle's content
// is hostile on purpose: `hydrate` must write it as text and drop unsafe URLs.
// Needs PACKAGING_DIR (where the packaging step installed the tarball), SLOTWISE_BIN.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { build } from 'vite';

const here = path.dirname(new URL(import.meta.url).pathname);
const TYPES = { '.js': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm' };

test('vite build: the package resolves, its wasm is emitted, hydrate renders safely', async () => {
  const packaging = process.env.PACKAGING_DIR;
  assert.ok(packaging, 'PACKAGING_DIR is not set: run through cargo xtask test');
  // Inside the packaging fixture, so `slotwise` resolves to the installed tarball.
  const app = path.join(packaging, 'vite-app');
  fs.rmSync(app, { recursive: true, force: true });
  fs.cpSync(path.join(here, 'vite-app'), app, { recursive: true });
  await build({ root: app, logLevel: 'warn', build: { outDir: 'dist', target: 'es2022' } });
  const dist = path.join(app, 'dist');
  const assets = fs.readdirSync(path.join(dist, 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the wasm module is an emitted asset: ${assets}`);
  execFileSync(process.env.SLOTWISE_BIN, ['bundle', 'build', path.join(app, 'authoring'), '-o', path.join(dist, 'bundle.swb')]);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x').pathname;
    const file = path.join(dist, path.normalize(url === '/' ? '/index.html' : url));
    if (!file.startsWith(dist) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(fs.readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const result = await page.waitForFunction(() => window.result).then((h) => h.jsonValue());
    assert.equal(result.error, null);
    assert.deepEqual(result.reasons, { hero: 'default', card: 'default', tpl: 'default', nope: 'unknown_slot' });
    assert.deepEqual(result.seen.sort(), ['card', 'hero', 'nope', 'tpl']);

    const hero = await page.$eval('[data-slotwise-slot="hero"]', (el) => ({
      title: el.querySelector('.slotwise-title')?.textContent,
      body: el.querySelector('.slotwise-body')?.textContent,
      links: el.querySelectorAll('a').length,
      images: el.querySelectorAll('img').length,
      scripts: el.querySelectorAll('script').length,
      price: el.querySelector('.slotwise-price')?.textContent,
      state: el.dataset.slotwiseState,
    }));
    assert.equal(hero.title, '<img src=x onerror="window.pwned=1">', 'markup in content is text');
    assert.equal(hero.body, '</p><script>window.pwned=1</script>');
    assert.deepEqual([hero.links, hero.images, hero.scripts], [0, 0, 0], 'javascript: URLs are dropped');
    assert.equal(hero.price, '12.50');
    assert.equal(hero.state, 'decided');
    assert.equal(await page.evaluate(() => window.pwned), undefined);

    const card = await page.$eval('[data-slotwise-slot="card"] a', (a) => ({ href: a.getAttribute('href'), img: a.querySelector('img').getAttribute('src'), alt: a.querySelector('img').alt }));
    assert.match(card.href, /^http:\/\/127\.0\.0\.1:\d+\/p\/1\?a=1&b=2$/);
    assert.match(card.img, /\/img\/card\.svg$/);
    assert.equal(card.alt, 'Safe card');
    // A <template> in the slot is the site's markup: fields filled, empty ones removed.
    const tpl = await page.$eval('[data-slotwise-slot="tpl"]', (el) => ({
      h3: el.querySelector(':scope > h3')?.textContent, body: el.querySelector(':scope > p'),
      href: el.querySelector(':scope > a')?.getAttribute('href'), img: el.querySelector(':scope > a > img')?.getAttribute('src'),
      template: el.querySelectorAll(':scope > template').length,
    }));
    assert.equal(tpl.h3, 'Safe card');
    assert.equal(tpl.body, null, 'a field without content is removed');
    assert.match(tpl.href, /\/p\/1\?a=1&b=2$/);
    assert.match(tpl.img, /\/img\/card\.svg$/);
    assert.equal(tpl.template, 1, 'the template stays for the next decision');
    const nope = await page.$eval('[data-slotwise-slot="nope"]', (el) => [el.textContent.trim(), el.dataset.slotwiseState]);
    assert.deepEqual(nope, ['page default for a slot the bundle lacks', 'default']);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
