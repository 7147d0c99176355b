// Failure isolation: a trap in wasm (a real one: the rewriter's or the engine's
// pointer is made to point outside the instance's memory, so the next call into wasm
// faults with "memory access out of bounds") retires the instance — the next request
// runs on a fresh one, the kept bundle bytes decoded again — and a rewriter that fails
// while the page streams loses or reorders no byte. The handler is built from the
// package's own files, as workerd.js and node.js build it, with a hook that sabotages
// one instance.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixtureBytes, here, serve, startWorker } from './helpers.mjs';
import { bare, FILLED, ORIGINAL, ROAD, TRAIL } from './edge-helpers.mjs';

const pkg = path.join(here, 'node_modules/slotwise');
const { createBindings } = await import(path.join(pkg, 'slotwise_edge.js'));
const { createSlotwise } = await import(path.join(pkg, 'slotwise.js'));
const { createHandler } = await import(path.join(pkg, 'edge.js'));
const wasmModule = await WebAssembly.compile(fs.readFileSync(path.join(pkg, 'slotwise_edge_bg.wasm')));

const OUTSIDE_MEMORY = 0xfffffff0;

/**
 * A sabotage for `handlerWith`: on the first instance, the `nth` call of
 * `Class.prototype[method]` (`Class`: a bindings class name) traps.
 */
const trapIn = (Class, method, nth = 1) => (bindings, n) => {
  if (n !== 1) return;
  const real = bindings[Class].prototype[method];
  let calls = 0;
  bindings[Class].prototype[method] = function (...args) {
    if (++calls === nth) this.__wbg_ptr = OUTSIDE_MEMORY;
    return real.apply(this, args);
  };
};

/** A handler whose instances are made by `sabotage(bindings, n)` (n: 1, 2, ...). */
function handlerWith(sabotage) {
  let made = 0;
  const { handle } = createHandler(() => {
    const bindings = createBindings();
    sabotage(bindings, ++made);
    return { bindings, Slotwise: createSlotwise(bindings, () => bindings.initSync({ module: wasmModule })) };
  });
  return { handle, instances: () => made };
}

/** The origin: the page in `chunks` (written one by one, a pause between), the bundle. */
async function origin(chunks) {
  let bundleFetches = 0;
  let signalBatches = 0;
  const server = await serve({}, {
    '/v1/signals': (req, res) => {
      signalBatches++;
      req.resume();
      res.writeHead(202);
      res.end();
    },
    '/': async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      for (const c of chunks) {
        res.write(c);
        await new Promise((r) => setTimeout(r, 150)); // workerd reads what has arrived: one chunk
      }
      res.end();
    },
    '/v1/bundle': (req, res) => {
      bundleFetches++;
      res.writeHead(200);
      res.end(Buffer.from(fixtureBytes()));
    },
  });
  return { ...server, bundleFetches: () => bundleFetches, signalBatches: () => signalBatches };
}

const cut = (text, at) => [text.slice(0, at), text.slice(at)];

/**
 * The handler's fetch for Node: the page as exactly these `chunks` (a stream made
 * here, so no network can merge or split them), the rest (the bundle) from `server`.
 */
const chunkedFetch = (chunks) => async (request, init) => {
  if (new URL(request.url ?? request).pathname !== '/') return fetch(request, init);
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  const body = new ReadableStream({
    pull(controller) {
      if (bytes.length) controller.enqueue(bytes.shift());
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/html; charset=utf-8' } });
};

test('a trap while the page streams: every byte still arrives, in order, and the instance is replaced', async () => {
  // The first chunk ends inside the offer's start tag: the rewriter holds
  // `<section data-slo` back when the second write traps. Nothing was filled before
  // (the anonymous visitor's first filled slot is the recs, further on).
  const [c1, rest] = cut(ORIGINAL, ORIGINAL.indexOf("<section data-slotwise-slot='offer'>") + 17);
  const [c2, c3] = cut(rest, 40);
  const server = await origin([ORIGINAL]);
  const options = { fetch: chunkedFetch([c1, c2, c3]) };
  const { handle, instances } = handlerWith(trapIn('PageRewriter', 'feed', 2));
  try {
    const env = { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` };
    const res = await handle(new Request('https://shop.example/'), env, undefined, options);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-slotwise'), 'filled'); // sent before the trap
    assert.equal(await res.text().then(bare), ORIGINAL);
    assert.equal(instances(), 1);
    // The next request runs on a fresh instance, with the bundle bytes kept (not
    // fetched again), and fills the page.
    const next = await handle(new Request('https://shop.example/'), env, undefined, options);
    assert.equal(await next.text().then(bare), FILLED);
    assert.equal(instances(), 2);
    assert.equal(server.bundleFetches(), 1);
  } finally {
    await server.close();
  }
});

test('a trap inside a slot being filled: the replacement, then the rest of the page as it came', async () => {
  // The first chunk ends inside the recs slot's default content: its replacement is
  // out, its default is being dropped, when the trap comes.
  const at = ORIGINAL.indexOf('<aside data-slotwise-slot=recs>') + '<aside data-slotwise-slot=recs><ul><li>'.length;
  const [c1, c2] = cut(ORIGINAL, at);
  const server = await origin([ORIGINAL]);
  const options = { fetch: chunkedFetch([c1, c2]) };
  const { handle } = handlerWith(trapIn('PageRewriter', 'feed', 2));
  try {
    const env = { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` };
    const html = await (await handle(new Request('https://shop.example/'), env, undefined, options)).text().then(bare);
    const slotStart = ORIGINAL.indexOf('<aside data-slotwise-slot=recs>') + '<aside data-slotwise-slot=recs>'.length;
    assert.equal(html, ORIGINAL.slice(0, slotStart) + TRAIL + ROAD + c2);
  } finally {
    await server.close();
  }
});

test('a trap before the page streams: the origin page untouched, reason wasm_trap; then a fresh instance', async () => {
  const server = await origin([ORIGINAL]);
  const { handle, instances } = handlerWith(trapIn('Engine', 'rewritePage'));
  try {
    const env = { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` };
    const res = await handle(new Request('https://shop.example/'), env);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=wasm_trap');
    assert.equal(await res.text().then(bare), ORIGINAL);
    const next = await handle(new Request('https://shop.example/'), env);
    assert.equal(next.headers.get('x-slotwise'), 'filled');
    assert.equal(await next.text().then(bare), FILLED);
    assert.equal(instances(), 2);
    assert.equal(server.bundleFetches(), 1);
  } finally {
    await server.close();
  }
});

test('a rewriter error that is not a trap: bytes kept in order, the instance kept', async () => {
  const [c1, c2] = cut(ORIGINAL, ORIGINAL.indexOf('<aside') + 3);
  const server = await origin([ORIGINAL]);
  const options = { fetch: chunkedFetch([c1, c2]) };
  const { handle, instances } = handlerWith((bindings, n) => {
    if (n !== 1) return;
    const write = bindings.PageRewriter.prototype.feed;
    let calls = 0;
    bindings.PageRewriter.prototype.feed = function (chunk) {
      if (++calls === 2) throw new Error('write failed');
      return write.call(this, chunk);
    };
  });
  try {
    const env = { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` };
    assert.equal(await (await handle(new Request('https://shop.example/'), env, undefined, options)).text().then(bare), ORIGINAL);
    assert.equal(instances(), 1);
  } finally {
    await server.close();
  }
});

/** A hook that counts the rewriter's calls (`fillAll`: a page in hand; `feed`: a chunk). */
function countingCalls(calls) {
  return (bindings) => {
    for (const name of ['fillAll', 'feed']) {
      const real = bindings.PageRewriter.prototype[name];
      bindings.PageRewriter.prototype[name] = function (...args) {
        calls[name] = (calls[name] ?? 0) + 1;
        return real.apply(this, args);
      };
    }
  };
}

test('a page the origin sent whole is filled in one call; a page still coming, chunk by chunk', async () => {
  const server = await origin([ORIGINAL]);
  const env = { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` };
  try {
    const whole = {};
    const a = handlerWith(countingCalls(whole));
    const res = await a.handle(new Request('https://shop.example/'), env, undefined, { fetch: chunkedFetch([ORIGINAL]) });
    assert.equal(res.headers.get('x-slotwise'), 'filled');
    const html = await res.text();
    assert.equal(bare(html), FILLED);
    assert.match(html, /<script type="application\/slotwise\+json" id="slotwise-handoff">[^<]+<\/script>$/);
    assert.deepEqual(whole, { fillAll: 1 });
    // Cut in two: the second part is not there when the first is read.
    const at = ORIGINAL.indexOf('<aside');
    const chunks = {};
    const b = handlerWith(countingCalls(chunks));
    const slow = (request) => chunkedFetch([ORIGINAL.slice(0, at), ORIGINAL.slice(at)])(request).then((r) => {
      const reader = r.body.getReader();
      let n = 0;
      const body = new ReadableStream({
        async pull(controller) {
          if (n++ === 1) await new Promise((done) => setTimeout(done, 30));
          const { value, done } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
      });
      return new Response(body, { headers: r.headers });
    });
    assert.equal(await (await b.handle(new Request('https://shop.example/'), env, undefined, { fetch: slow })).text().then(bare), FILLED);
    assert.equal(chunks.fillAll, undefined);
    assert.ok(chunks.feed >= 2, `feed was called ${chunks.feed} times`);
  } finally {
    await server.close();
  }
});

test('a trap while filling a page in hand: the origin page untouched, reason wasm_trap, no impression sent; then a fresh instance', async () => {
  const server = await origin([ORIGINAL]);
  const options = { fetch: chunkedFetch([ORIGINAL]) };
  const { handle, instances } = handlerWith(trapIn('PageRewriter', 'fillAll'));
  const pending = [];
  const ctx = { waitUntil: (p) => pending.push(p) };
  // With measurement consent: the filled page's impressions go to the signals endpoint.
  const visitor = () => new Request('https://shop.example/', { headers: { cookie: 'sw_consent=measurement' } });
  try {
    const env = { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle`, SLOTWISE_SIGNALS: `${server.base}/v1/signals` };
    const res = await handle(visitor(), env, ctx, options);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=wasm_trap');
    assert.equal(await res.text(), ORIGINAL); // no handoff: the browser decides this page itself
    await Promise.all(pending.splice(0));
    assert.equal(server.signalBatches(), 0); // nothing was shown, so no impression
    const next = await handle(visitor(), env, ctx, options);
    assert.equal(next.headers.get('x-slotwise'), 'filled');
    assert.equal(await next.text().then(bare), FILLED);
    await Promise.all(pending.splice(0));
    assert.equal(server.signalBatches(), 1);
    assert.equal(instances(), 2);
  } finally {
    await server.close();
  }
});

test('an error filling a page in hand that is not a trap: the origin page, reason internal, the instance kept', async () => {
  const server = await origin([ORIGINAL]);
  const options = { fetch: chunkedFetch([ORIGINAL]) };
  const { handle, instances } = handlerWith((bindings, n) => {
    if (n !== 1) return;
    bindings.PageRewriter.prototype.fillAll = () => {
      throw new Error('fill failed');
    };
  });
  try {
    const env = { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` };
    const res = await handle(new Request('https://shop.example/'), env, undefined, options);
    assert.equal(res.headers.get('x-slotwise'), 'passthrough; reason=internal');
    assert.equal(await res.text(), ORIGINAL);
    await handle(new Request('https://shop.example/'), env, undefined, options);
    assert.equal(instances(), 1);
  } finally {
    await server.close();
  }
});

test('workerd: a trap while the page streams loses no byte; the next request gets a fresh instance', async () => {
  const [c1, rest] = cut(ORIGINAL, ORIGINAL.indexOf("<section data-slotwise-slot='offer'>") + 17);
  const server = await origin([c1, rest]);
  const { mf } = await startWorker('edge-trap-worker.mjs', { SLOTWISE_ORIGIN: server.base, SLOTWISE_BUNDLE: `${server.base}/v1/bundle` });
  try {
    const res = await mf.dispatchFetch('https://shop.example/');
    assert.equal(res.status, 200);
    assert.equal(await res.text().then(bare), ORIGINAL);
    assert.equal(await (await mf.dispatchFetch('https://shop.example/_instances')).text().then(bare), '1');
    const next = await mf.dispatchFetch('https://shop.example/');
    assert.equal(await next.text().then(bare), FILLED);
    assert.equal(await (await mf.dispatchFetch('https://shop.example/_instances')).text().then(bare), '2');
    assert.equal(server.bundleFetches(), 1);
  } finally {
    await mf.dispose();
    await server.close();
  }
});
