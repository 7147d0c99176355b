// Shared helpers for the packaging tests: the fixture bundle and a static server.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

export const here = path.dirname(new URL(import.meta.url).pathname);
export const fixtureBytes = () => new Uint8Array(fs.readFileSync(path.join(here, 'fixtures', 'shop.swb')));

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.swb': 'application/octet-stream' };

/** Serves `routes` (url prefix → directory) plus fixed `files` (url → {type, body}, or a
 * `(req, res)` handler) on loopback; `onRequest(req)` sees every request first. */
export async function serve(routes, files = {}, onRequest = () => {}) {
  const server = http.createServer((req, res) => {
    onRequest(req);
    const url = new URL(req.url, 'http://x').pathname;
    if (typeof files[url] === 'function') return files[url](req, res);
    if (files[url]) {
      const f = files[url];
      res.writeHead(f.status ?? 200, { 'content-type': f.type ?? 'application/octet-stream' });
      return res.end(f.body);
    }
    for (const [prefix, dir] of Object.entries(routes)) {
      if (!url.startsWith(prefix)) continue;
      const file = path.join(dir, path.normalize(url.slice(prefix.length)).replace(/^(\.\.[/\\])+/, ''));
      if (file.startsWith(dir) && fs.existsSync(file) && fs.statSync(file).isFile()) {
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
        return res.end(fs.readFileSync(file));
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** What every consumer checks about a decision for the fixture's slots. */
export function checkShopDecisions(assert, d) {
  assert.deepEqual(Object.keys(d).sort(), ['hero', 'nope', 'offer']);
  assert.equal(d.hero.content.id, 'hero-default');
  assert.equal(d.hero.content.title, 'Autumn collection');
  assert.equal(d.hero.reason, 'default');
  assert.match(d.hero.decisionId, /^[0-9a-f]{16}$/);
  assert.notEqual(d.hero.decisionId, d.offer.decisionId);
  assert.equal(d.offer.content.id, 'offer-default');
  assert.equal(d.nope.content, null);
  assert.equal(d.nope.reason, 'unknown_slot');
}

let workerBuilds = 0;
/**
 * Bundles `entry` (a file next to the tests) as a site would for workerd — esbuild
 * with wrangler's conditions, the .wasm (and `.swb` bundles) left as separate
 * modules — and starts it in miniflare with `bindings`. Each call gets its own
 * directory: miniflare reads modules lazily. `options`: more Miniflare options
 * (KV namespaces, service bindings...).
 */
export async function startWorker(entry, bindings = {}, options = {}) {
  const { build } = await import('esbuild');
  const { Miniflare } = await import('miniflare');
  const out = path.join(here, `worker-dist-${workerBuilds++}`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, 'fixtures'), { recursive: true });
  await build({
    entryPoints: [path.join(here, entry)],
    outfile: path.join(out, 'worker.js'),
    bundle: true,
    format: 'esm',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['*.wasm', '*.swb'],
    logLevel: 'error',
  });
  fs.copyFileSync(path.join(here, 'node_modules/slotwise/slotwise_edge_bg.wasm'), path.join(out, 'slotwise_edge_bg.wasm'));
  fs.copyFileSync(path.join(here, 'fixtures/shop.swb'), path.join(out, 'fixtures/shop.swb'));
  const source = fs.readFileSync(path.join(out, 'worker.js'), 'utf8');
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(out, 'worker.js'),
    modulesRoot: out,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
      { type: 'Data', include: ['**/*.swb'] },
    ],
    compatibilityDate: '2026-04-01',
    bindings,
    ...options,
  });
  return { mf, source };
}
