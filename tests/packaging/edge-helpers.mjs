// What the edge tests share: the origin's page and what the fixture bundle fills it
// with, and a local origin on loopback that records what it was asked.
import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { fixtureBytes, here, serve } from './helpers.mjs';

export const page = (hero, offer, recs) => `<!doctype html><html><head><title>Shop</title>
<script>window.x = "</div><div data-slotwise-slot='hero'>";</script></head><body>
<!-- <div data-slotwise-slot="offer">commented</div> -->
<div class=slot data-slotwise-slot="hero">${hero}</div>
<section data-slotwise-slot='offer'>${offer}</section>
<div data-slotwise-slot="unknown">stays</div>
<aside data-slotwise-slot=recs>${recs}</aside>
<p>Ünïcödé text &amp; entities stay as they are.</p></body></html>`;

/** The web fragment of one fixture item. */
export const item = (id, title, price) =>
  `<a class="slotwise-item" href="/p/${id}"><img class="slotwise-image" src="/img/${id}.svg" alt="${title}"><strong class="slotwise-title">${title}</strong><span class="slotwise-price">${price}</span></a>`;
export const TRAIL = item('sku-trail-1', 'Ridge trail runner', '129.00');
export const ROAD = item('sku-road-1', 'Tempo road shoe', '119.00');
export const JACKET = item('sku-jacket-1', 'Storm shell jacket', '189.00');

export const HERO_DEFAULT = '<h1>Default hero</h1><div><div>nested</div></div>';
export const ORIGINAL = page(HERO_DEFAULT, 'Free shipping', '<ul><li>a</li></ul>');
// An anonymous visitor: the hero's rules do not apply and the offer shows its default,
// so both keep the page's own markup; the recs slot gets its first two candidates.
export const FILLED = page(HERO_DEFAULT, 'Free shipping', TRAIL + ROAD);

export const snippets = () => JSON.parse(fs.readFileSync(path.join(here, 'fixtures/edge/snippets.json'), 'utf8'));
export const holdoutBytes = () => new Uint8Array(fs.readFileSync(path.join(here, 'fixtures/edge/shop-holdout.swb')));

/**
 * The origin: the page (plain, and with cache headers), 404/500 pages, a PDF, the
 * bundle (and a corrupt and a holdout one), and POST /v1/signals. `seen` records
 * every request (url, cookie, if-none-match), `signals` the batches received.
 */
export async function startOrigin() {
  const bytes = Buffer.from(fixtureBytes());
  const html = { type: 'text/html; charset=utf-8' };
  const seen = [];
  const signals = [];
  const server = await serve({}, {
    '/': { ...html, body: ORIGINAL },
    '/cached': (req, res) => {
      res.writeHead(200, { 'content-type': html.type, 'cache-control': 'public, max-age=300, s-maxage=600', etag: '"page-1"', vary: 'Accept-Encoding' });
      res.end(ORIGINAL);
    },
    '/gzip': (req, res) => {
      res.writeHead(200, { 'content-type': html.type, 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(ORIGINAL));
    },
    '/missing': { ...html, status: 404, body: '<div data-slotwise-slot="hero">404 page</div>' },
    '/broken': { ...html, status: 500, body: 'origin error' },
    '/doc.pdf': { type: 'application/pdf', body: '%PDF-1.4 <div data-slotwise-slot="hero">' },
    '/v1/bundle': { body: bytes },
    '/v1/corrupt': { body: bytes.subarray(0, 100) },
    '/v1/holdout': { body: Buffer.from(holdoutBytes()) },
    '/v1/signals': (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        signals.push({ type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(202);
        res.end();
      });
    },
  }, (req) => seen.push({ url: req.url, cookie: req.headers.cookie ?? null, ifNoneMatch: req.headers['if-none-match'] ?? null }));
  return { ...server, seen, signals };
}

/** Resolves once `check()` (which may be async) is true, polling; fails after `ms`. */
export async function eventually(check, ms = 5000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The consent bits of the first signal of an SWG1 batch of impressions. */
export function firstSignalConsent(batch) {
  let at = 5;
  const varint = () => {
    while (batch[at++] & 0x80);
  };
  varint(); // count
  varint(); // base time
  varint(); // subjects (none for impressions)
  return batch[at + 1] & 0x0f; // after the kind byte: consent | flags
}

const HANDOFF_AT_END = /<script type="application\/slotwise\+json" id="slotwise-handoff">[^<]*<\/script>$/;

/** A filled page without the decision handoff the edge appends (see handoff.js). */
export const bare = (html) => html.replace(HANDOFF_AT_END, '');

/** The decision handoff at the end of a filled page, parsed, or null. */
export function handoffOf(html) {
  const m = /<script type="application\/slotwise\+json" id="slotwise-handoff">([^<]*)<\/script>$/.exec(html);
  return m ? JSON.parse(m[1]) : null;
}
