// Real-world origin responses and bots through the edge handler, in workerd (the
// repo's worker/worker.js in miniflare) and in Node's Request/Response: compressed
// pages (gzip, br, deflate) filled with headers that match the body, a windows-1251
// page (header and <meta>) passed through byte for byte, HEAD, a range request, 304,
// a redirect (not followed), a PDF, and a crawler that gets the default page and
// sends no signal.
import test from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { handle } from 'slotwise/worker';
import { fixtureBytes, serve, startWorker } from './helpers.mjs';
import { readHandoff } from 'slotwise/handoff';
import { bare, eventually, FILLED, handoffOf, ORIGINAL } from './edge-helpers.mjs';

// "Привет, мир" and the slot, in windows-1251: bytes a UTF-8 rewrite would mangle.
const CP1251_TEXT = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2, 0x2c, 0x20, 0xec, 0xe8, 0xf0]);
const cp1251Page = (meta) => Buffer.concat([
  Buffer.from(`<!doctype html><html><head>${meta}<title>x</title></head><body><p>`),
  CP1251_TEXT,
  Buffer.from('</p><aside data-slotwise-slot=recs><ul><li>a</li></ul></aside></body></html>'),
]);
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n<div data-slotwise-slot="recs">x</div>\n'), Buffer.from([0xe2, 0xe3, 0xcf, 0xd3, 0x00, 0xff])]);

async function startOrigin() {
  const html = 'text/html; charset=utf-8';
  const signals = [];
  const encoded = (encoding, bytes) => (req, res) => {
    res.writeHead(200, { 'content-type': html, 'content-encoding': encoding, 'content-length': bytes.length });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };
  const encodedPdf = (encoding, bytes) => (req, res) => {
    res.writeHead(200, { 'content-type': 'application/pdf', 'content-encoding': encoding, 'content-length': bytes.length });
    res.end(bytes);
  };
  const server = await serve({}, {
    '/': (req, res) => {
      const body = Buffer.from(ORIGINAL);
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' });
        return res.end();
      }
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (range) {
        const part = body.subarray(Number(range[1]), Number(range[2]) + 1);
        res.writeHead(206, { 'content-type': html, 'content-range': `bytes ${range[1]}-${range[2]}/${body.length}`, 'content-length': part.length });
        return res.end(part);
      }
      res.writeHead(200, { 'content-type': html, 'content-length': body.length, etag: '"v1"' });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
    '/gzip': encoded('gzip', zlib.gzipSync(ORIGINAL)),
    '/br': encoded('br', zlib.brotliCompressSync(ORIGINAL)),
    '/deflate': encoded('deflate', zlib.deflateSync(ORIGINAL)),
    '/gzip-doc.pdf': encodedPdf('gzip', zlib.gzipSync(PDF)),
    '/deflate-doc.pdf': encodedPdf('deflate', zlib.deflateSync(PDF)),
    '/cp1251': { type: 'text/html; charset=windows-1251', body: cp1251Page('') },
    '/cp1251-meta': { type: 'text/html', body: cp1251Page('<meta charset="windows-1251">') },
    '/cp1251-equiv': { type: 'text/html', body: cp1251Page('<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">') },
    '/utf8-meta': { type: 'text/html', body: `<meta charset=utf-8>${ORIGINAL}` },
    '/doc.pdf': { type: 'application/pdf', body: PDF },
    '/old': (req, res) => {
      res.writeHead(302, { location: '/', 'content-type': 'text/html' });
      res.end('<a href="/">moved</a>');
    },
    '/v1/bundle': { body: Buffer.from(fixtureBytes()) },
    '/v1/signals': (req, res) => {
      req.resume();
      req.on('end', () => {
        signals.push(req.url);
        res.writeHead(202);
        res.end();
      });
    },
  });
  return { ...server, signals };
}

const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/**
 * Every origin case through `fetchPage(path, init)`; `origin.signals` records POSTs;
 * `raw`: the responses are the handler's own (Node), not decoded by a client.
 */
async function checkOrigins(fetchPage, origin, raw) {
  // Compressed pages: fetch decodes them, the slots are filled, and the answer claims
  // neither the origin's encoding nor its (compressed) length.
  for (const p of ['/gzip', '/br', '/deflate']) {
    const res = await fetchPage(p, { headers: { 'accept-encoding': 'gzip, br, deflate' } });
    assert.equal(res.status, 200, p);
    assert.equal(res.headers.get('x-slotwise'), 'filled', p);
    assert.equal(res.headers.get('content-encoding'), null, p);
    assert.equal(res.headers.get('content-length'), null, p);
    assert.equal(await res.text().then(bare), FILLED, p);
  }
  // Compressed PDFs passed through: the bytes as the origin meant them, and headers
  // that describe the body (gzip: decoded by every runtime; deflate: workerd leaves
  // it compressed, with its headers). `raw`: the body is what goes on the wire (Node:
  // the handler's own Response), else the client decoded it.
  let res;
  for (const p of ['/gzip-doc.pdf', '/deflate-doc.pdf']) {
    res = await fetchPage(p);
    assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=content_type', p);
    const encoding = res.headers.get('content-encoding');
    const got = Buffer.from(await res.arrayBuffer());
    assert.ok(encoding === null || encoding === p.split('-')[0].slice(1), `${p}: ${encoding}`);
    assert.deepEqual(raw && encoding ? zlib.unzipSync(got) : got, PDF, p);
    if (raw && res.headers.get('content-length') != null) assert.equal(Number(res.headers.get('content-length')), got.length, p);
  }

  // A plain PDF: untouched.
  res = await fetchPage('/doc.pdf');
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=content_type');
  assert.equal(res.headers.get('content-type'), 'application/pdf');
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), PDF);

  // windows-1251, from the header or a <meta>: passed through byte for byte.
  for (const [p, meta] of [
    ['/cp1251', ''],
    ['/cp1251-meta', '<meta charset="windows-1251">'],
    ['/cp1251-equiv', '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'],
  ]) {
    res = await fetchPage(p);
    assert.equal(res.status, 200, p);
    assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=charset', p);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), cp1251Page(meta), p);
  }
  // A <meta charset=utf-8> page without a header charset is filled (read ahead, no
  // byte lost).
  res = await fetchPage('/utf8-meta');
  assert.equal(res.headers.get('x-slotwise'), 'filled');
  assert.equal(await res.text().then(bare), `<meta charset=utf-8>${FILLED}`);

  // HEAD: the origin's answer, no body.
  res = await fetchPage('/', { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=method');
  assert.equal((await res.arrayBuffer()).byteLength, 0);
  res = await fetchPage('/gzip', { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.ok([null, 'gzip'].includes(res.headers.get('content-encoding')), 'HEAD: no encoding, or the one a GET gets');
  await res.arrayBuffer();

  // A range request: the origin's 206, those bytes exactly.
  res = await fetchPage('/', { headers: { range: 'bytes=0-14' } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=status');
  assert.equal(res.headers.get('content-range'), `bytes 0-14/${Buffer.byteLength(ORIGINAL)}`);
  assert.equal(await res.text().then(bare), ORIGINAL.slice(0, 15));

  // A conditional request the origin answers 304: passed on as 304, no body.
  res = await fetchPage('/', { headers: { 'if-none-match': '"v1"' } });
  assert.equal(res.status, 304);
  assert.equal(res.headers.get('etag'), '"v1"');
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=status');

  // A redirect is not followed: the browser gets the 302 and its Location.
  res = await fetchPage('/old', { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), '/');
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=status');
  assert.equal(await res.text().then(bare), '<a href="/">moved</a>');

  // A crawler with measurement consent: the default page, no signal, no cookie.
  origin.signals.length = 0;
  res = await fetchPage('/', { headers: { 'user-agent': GOOGLEBOT, cookie: 'sw_consent=personalization,measurement' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=bot; bot=user_agent');
  assert.equal(res.headers.get('set-cookie'), null);
  assert.equal(await res.text().then(bare), ORIGINAL);
  // A headless brand in the client hints: the same.
  res = await fetchPage('/', { headers: { 'user-agent': CHROME, 'sec-ch-ua': '"HeadlessChrome";v="131"', cookie: 'sw_consent=measurement' } });
  assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=bot; bot=sec_ch_ua');
  assert.equal(await res.text().then(bare), ORIGINAL);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(origin.signals.length, 0, 'a bot sends no signal');
  // The same request from a browser: filled, and its impressions are sent.
  res = await fetchPage('/', { headers: { 'user-agent': CHROME, cookie: 'sw_consent=personalization,measurement' } });
  assert.equal(res.headers.get('x-slotwise'), 'filled');
  const html = await res.text();
  assert.equal(bare(html), FILLED);
  await eventually(() => origin.signals.length === 1);
  // The page ends with the decisions for the browser: every slot of the bundle, the
  // impressions marked sent; the checksum catches any change.
  const handed = handoffOf(html);
  assert.deepEqual([...handed.s].sort(), ['hero', 'offer', 'recs']);
  assert.equal(handed.i, 1);
  const json = html.slice(html.lastIndexOf('">') + 2, -'</script>'.length);
  const root = (text) => ({ querySelector: () => ({ textContent: text }) });
  const read = readHandoff(root(json), handed.b);
  assert.deepEqual(read.names, handed.s);
  assert.deepEqual([...read.flat], handed.d);
  assert.equal(read.sent, true);
  assert.equal(readHandoff(root(json), 'another-bundle'), null);
  assert.equal(readHandoff(root(json.replace('"i":1', '"i":0')), handed.b), null);
  assert.equal(readHandoff(root(json.slice(0, -2)), handed.b), null);
}

test('edge (Node Request/Response): compressed, non-UTF-8, HEAD, range, 304, redirect, PDF, bots', async () => {
  const origin = await startOrigin();
  try {
    const env = { SLOTWISE_ORIGIN: origin.base, SLOTWISE_BUNDLE: `${origin.base}/v1/bundle`, SLOTWISE_SIGNALS: `${origin.base}/v1/signals` };
    const ctx = { waitUntil: () => {} };
    await checkOrigins((p, init) => handle(new Request(`https://shop.example${p}`, init), env, ctx), origin, true);
  } finally {
    await origin.close();
  }
});

test('edge (workerd): compressed, non-UTF-8, HEAD, range, 304, redirect, PDF, bots', async () => {
  const origin = await startOrigin();
  const { mf } = await startWorker('worker.js', {
    SLOTWISE_ORIGIN: origin.base,
    SLOTWISE_BUNDLE: `${origin.base}/v1/bundle`,
    SLOTWISE_SIGNALS: `${origin.base}/v1/signals`,
  });
  try {
    await checkOrigins((p, init) => mf.dispatchFetch(`https://shop.example${p}`, { redirect: 'manual', ...init }), origin, false);
  } finally {
    await mf.dispose();
    await origin.close();
  }
});

test("the page context's path is the request URL's pathname, read without parsing it again", async () => {
  const { pathOf } = await import(new URL('./node_modules/slotwise/edge.js', import.meta.url));
  for (const url of [
    'https://shop.example/p/1?x=1#top',
    'https://shop.example',
    'https://shop.example:8443/a b/%C3%BC/c?q=/x',
    'http://shop.example/?next=/account#/hash',
    'https://shop.example/p#frag?not-a-query',
    'https://shop.example/ünï/../p;v=1',
    'https://[::1]:8080//double//slash',
  ]) {
    const serialized = new Request(url).url;
    assert.equal(pathOf(serialized), new URL(serialized).pathname, serialized);
  }
});
