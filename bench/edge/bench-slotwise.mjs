// Added time per request of the Slotwise edge handler in workerd (miniflare), on the
// anchor's 100 KB page with 4 slots: `handle()` from `slotwise/worker` with a visitor
// who has consent, a stored session and a signed profile snippet — cookies parsed,
// consent resolved, snippet verified (WebCrypto Ed25519; from the per-isolate cache
// or not), every slot decided, the page streamed through the slot rewriter and read
// to the end.
//
//   cargo xtask bench-edge   (builds the package, the bundle and a snippet, runs this
//                             next to the anchor; see xtask/src/bench_edge.rs)
//
// How it is measured: like the anchor, many iterations inside one request. workerd's
// clock is coarse (whole milliseconds here, and it moves only on I/O), so a single
// iteration cannot be timed: each request runs N iterations of one mode and returns
// their mean time. Modes: `pass` (the origin page read through: the baseline, as the
// anchor's /pass), `uncached` (the snippet verified every time) and `cached`
// (verified snippets from the isolate's cache), interleaved over RUNS requests each;
// `small_*` the same on a page of just the 4 slots, `pieces_*` with the 100 KB page
// arriving in pieces (filled as it streams, where the others arrive whole).
// Added time = mode − pass, at the median and the p99 of the RUNS per-request means
// (a p99 of means of N: it smooths single slow iterations; with RUNS < 100 it is the
// slowest request). The anchor's worker runs interleaved with ours, request by
// request, measured the same way (its own /pass and /rewrite).
//
// Prints one JSON line.
import fs from 'node:fs';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { build } from 'esbuild';

const [pkgDir, bundlePath, tokenPath, keysPath, pagePath, outDir] = process.argv.slice(2);
const RUNS = +(process.env.RUNS || 40);
const N = +(process.env.N || 100);
const token = fs.readFileSync(tokenPath, 'utf8').trim();
const keys = fs.readFileSync(keysPath, 'utf8');

// A returning visitor: consent, a session with a few product views, the snippet.
const { Slotwise } = await import(path.resolve(pkgDir, 'node.js'));
const sw = await Slotwise.load({ bundle: new Uint8Array(fs.readFileSync(bundlePath)), storage: null });
const v = sw.visitor({ consent: { personalization: true } });
for (const item of ['sku-1', 'sku-5', 'sku-9']) v.track({ type: 'view', item });
v.track({ type: 'view', category: 'running-shoes' });
const cookie = `sw_consent=personalization; sw_session=${Buffer.from(v.sessionBytes()).toString('base64url')}; sw_profile=${token}`;

const worker = `
import { handle } from 'slotwise';
import page from './page.html';
let bundle;
const html = { headers: { 'content-type': 'text/html; charset=utf-8' } };
const origin = async () => new Response(page, html);
// The 4 slots alone: what the handler costs whatever the page's size.
const small = '<!doctype html><body>' + ['hero', 'recs', 'offer', 'footer-recs'].map((s) => '<div data-slotwise-slot="' + s + '">d</div>').join('') + '</body>';
const smallOrigin = async () => new Response(small, html);
// The 100 KB page in 25 KB pieces, each given when the reader asks: a page still
// arriving when the handler reads it, so it is filled as it streams, chunk by chunk.
const pageBytes = new TextEncoder().encode(page);
const piecesOrigin = async () => {
  let at = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (at >= pageBytes.length) return controller.close();
      controller.enqueue(pageBytes.slice(at, at + 25000));
      at += 25000;
    },
  });
  return new Response(body, html);
};
const origins = { small: smallOrigin, pieces: piecesOrigin };
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const mode = url.pathname.slice(1);
    const n = +url.searchParams.get('n');
    bundle ??= new Uint8Array(env.BUNDLE);
    const options = { fetch: origins[mode.split('_')[0]] ?? origin, bundle, keys: env.KEYS, snippetCache: mode !== 'uncached' };
    const visitor = new Request('https://shop.example/p/1', {
      headers: { cookie: env.COOKIE, 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile', 'accept-language': 'en-GB' },
    });
    let header = null;
    let sample = null;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (mode.endsWith('pass')) {
        await (await options.fetch()).arrayBuffer();
      } else {
        const res = await handle(visitor, env, ctx, options);
        const body = await res.arrayBuffer();
        if (i === n - 1) {
          header = res.headers.get('x-slotwise');
          sample = new TextDecoder().decode(body);
        }
      }
    }
    return Response.json({ ms: (performance.now() - t0) / n, header, sample });
  },
};`;
fs.mkdirSync(outDir, { recursive: true });
fs.copyFileSync(pagePath, path.join(outDir, 'page.html'));
await build({
  stdin: { contents: worker, resolveDir: outDir, loader: 'js' },
  outfile: path.join(outDir, 'worker.js'), bundle: true, format: 'esm',
  conditions: ['workerd', 'worker', 'browser'], external: ['*.wasm', '*.html'], logLevel: 'error',
  alias: { slotwise: path.resolve(pkgDir, 'workerd.js') },
});
fs.copyFileSync(path.join(pkgDir, 'slotwise_edge_bg.wasm'), path.join(outDir, 'slotwise_edge_bg.wasm'));
const mf = new Miniflare({
  modules: true, scriptPath: path.join(outDir, 'worker.js'), modulesRoot: outDir,
  modulesRules: [
    { type: 'ESModule', include: ['**/*.js'] },
    { type: 'CompiledWasm', include: ['**/*.wasm'] },
    { type: 'Text', include: ['**/*.html'] },
  ],
  compatibilityDate: '2026-04-01',
  bindings: { KEYS: keys, COOKIE: cookie },
  dataBlobBindings: { BUNDLE: path.resolve(bundlePath) },
});

// The anchor's worker (HTMLRewriter, from the copied harness next to this file),
// configured as its bench.mjs does, interleaved with ours request by request so both
// see the same machine (2 shared cores: the load moves between minutes).
const anchorDir = path.dirname(new URL(import.meta.url).pathname);
const anchor = new Miniflare({
  modules: true, scriptPath: path.join(anchorDir, 'htmlrewriter-worker.js'), compatibilityDate: '2025-01-01',
  modulesRules: [{ type: 'Text', include: ['**/*.html'] }, { type: 'ESModule', include: ['**/*.js'] }],
});

// small_*: the same handler on a page of just the 4 slots (the fixed part of the cost:
// cookies, snippet, decide, headers, handoff, the stream); the rest is per byte.
// pieces_*: the 100 KB page arriving in pieces (the streaming fill).
const modes = ['pass', 'uncached', 'cached', 'small_pass', 'small_cached', 'pieces_pass', 'pieces_cached'];
const times = Object.fromEntries([...modes, 'anchor_pass', 'anchor_rewrite'].map((m) => [m, []]));
const last = {};
try {
  for (const mode of modes) await (await mf.dispatchFetch(`http://x/${mode}?n=20`)).json(); // warm-up
  for (const p of ['pass', 'rewrite']) await (await anchor.dispatchFetch(`http://x/${p}`)).text();
  for (let r = 0; r < RUNS; r++) {
    for (const mode of modes) {
      const res = await mf.dispatchFetch(`http://x/${mode}?n=${N}`);
      if (res.status !== 200) throw new Error(`worker /${mode}: ${res.status} ${await res.text()}`);
      const out = await res.json();
      times[mode].push(out.ms);
      last[mode] = out;
    }
    for (const p of ['pass', 'rewrite']) times[`anchor_${p}`].push(+(await (await anchor.dispatchFetch(`http://x/${p}`)).text()));
  }
} finally {
  await mf.dispose();
  await anchor.dispose();
}

// The work must be the real thing: every slot filled, the snippet verified or cached.
const page = fs.readFileSync(pagePath, 'utf8');
for (const [mode, note] of [['uncached', 'snippet=verified'], ['cached', 'snippet=cached'], ['pieces_cached', 'snippet=cached']]) {
  const { header, sample } = last[mode];
  if (header !== `filled; ${note}`) throw new Error(`${mode}: x-slotwise is ${header}, not "filled; ${note}"`);
  for (const slot of ['hero', 'recs', 'offer', 'footer-recs']) {
    const at = sample.indexOf(`data-slotwise-slot="${slot}">`);
    if (at < 0 || !sample.startsWith('<a class="slotwise-item"', at + `data-slotwise-slot="${slot}">`.length)) {
      throw new Error(`${mode}: slot ${slot} was not filled`);
    }
  }
  const outside = (html) => html.replace(/(data-slotwise-slot="[^"]+">)(.*?)<\/div>/gs, '$1</div>');
  // The page is followed by the decisions handed to the browser (handoff.js).
  const handoff = /<script type="application\/slotwise\+json" id="slotwise-handoff">[^<]*<\/script>$/;
  if (!handoff.test(sample)) throw new Error(`${mode}: no decision handoff after the page`);
  if (outside(sample.replace(handoff, '')) !== outside(page)) throw new Error(`${mode}: the page changed outside its slots`);
}

if (last.small_cached.header !== 'filled; snippet=cached') throw new Error(`small_cached: x-slotwise is ${last.small_cached.header}`);

const quantile = (xs, p) => {
  const a = Float64Array.from(xs).sort();
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))];
};
const stats = (xs) => ({ requests: xs.length, median_ms: quantile(xs, 0.5), p99_ms: quantile(xs, 0.99) });
/** A mode's stats with its added time over `pass` (median and p99, against pass's median). */
const over = (s, pass) => ({ ...s, added_median_ms: s.median_ms - pass.median_ms, added_p99_ms: s.p99_ms - pass.median_ms });
const pass = stats(times.pass);
const result = { what: 'slotwise handle() in workerd, 100 KB page, 4 slots', runs: RUNS, iterations_per_request: N, pass };
for (const mode of ['uncached', 'cached']) result[mode] = over(stats(times[mode]), pass);
for (const [page, what] of [
  ['small', 'the same, cached, on a page of just the 4 slots'],
  ['pieces', 'the same, cached, the 100 KB page arriving in 25 KB pieces (filled as it streams)'],
]) {
  const pagePass = stats(times[`${page}_pass`]);
  result[page] = { what, pass: pagePass, cached: over(stats(times[`${page}_cached`]), pagePass) };
}
const anchorPass = stats(times.anchor_pass);
const anchorRewrite = stats(times.anchor_rewrite);
result.anchor = {
  what: 'HTMLRewriter, the anchor worker, interleaved (200 iterations per request)',
  pass: anchorPass, rewrite: anchorRewrite,
  added_median_ms: anchorRewrite.median_ms - anchorPass.median_ms,
  added_p99_ms: anchorRewrite.p99_ms - anchorPass.median_ms,
};
console.log(JSON.stringify(result));
