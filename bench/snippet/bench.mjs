// Snippet verify + decode time, in Node and in workerd (miniflare), on one run.
//
//   cargo xtask bench-snippet      (builds the package, signs a typical snippet, runs this)
//
// Node: `visitor.useSnippet(token)` = base64url decode + parse + WebCrypto Ed25519
// importKey/verify + claim checks, awaited; median and p99 over ITER calls.
// workerd: the same call inside a worker; per request, measured from the client as the
// difference to a request that skips the verification (the request overhead cancels).
import { performance } from 'node:perf_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { build } from 'esbuild';

const [pkgDir, bundlePath, tokenPath, keysPath, outDir] = process.argv.slice(2);
const ITER = +(process.env.ITER || 2000);
const token = fs.readFileSync(tokenPath, 'utf8').trim();
const keys = JSON.parse(fs.readFileSync(keysPath, 'utf8'));
const bundle = new Uint8Array(fs.readFileSync(bundlePath));
const audience = process.env.AUDIENCE || 'shop.example';

const stats = (xs) => {
  const a = Float64Array.from(xs).sort();
  const q = (p) => a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)];
  return { n: a.length, median_us: +(q(0.5) * 1000).toFixed(1), p99_us: +(q(0.99) * 1000).toFixed(1) };
};

// ---- Node ----
const { Slotwise } = await import(path.resolve(pkgDir, 'node.js'));
const sw = await Slotwise.load({ bundle, storage: null, keys, audience });
const check = await sw.visitor({ consent: { personalization: true } }).useSnippet(token);
if (!check.ok) throw new Error(`the benchmark snippet does not verify: ${check.reason}`);
const node = [];
for (let i = 0; i < ITER + 200; i++) {
  const v = sw.visitor({ consent: { personalization: true } });
  const t0 = performance.now();
  const r = await v.useSnippet(token);
  const t1 = performance.now();
  if (!r.ok) throw new Error(r.reason);
  if (i >= 200) node.push(t1 - t0);
}

// ---- workerd ----
const worker = `
import { Slotwise } from 'slotwise';
let sw;
export default {
  async fetch(request, env) {
    sw ??= await Slotwise.load({ bundle: new Uint8Array(env.BUNDLE), storage: null, keys: JSON.parse(env.KEYS), audience: env.AUDIENCE });
    const v = sw.visitor({ consent: { personalization: true } });
    if (new URL(request.url).pathname === '/verify') {
      const r = await v.useSnippet(env.TOKEN);
      if (!r.ok) return new Response(r.reason, { status: 500 });
    }
    return new Response('ok');
  },
};`;
fs.mkdirSync(outDir, { recursive: true });
await build({
  stdin: { contents: worker, resolveDir: outDir, loader: 'js' },
  outfile: path.join(outDir, 'worker.js'), bundle: true, format: 'esm',
  conditions: ['workerd', 'worker', 'browser'], external: ['*.wasm'], logLevel: 'error',
  nodePaths: [path.resolve(pkgDir, '..')],
  alias: { slotwise: path.resolve(pkgDir, 'workerd.js') },
});
fs.copyFileSync(path.join(pkgDir, 'slotwise_edge_bg.wasm'), path.join(outDir, 'slotwise_edge_bg.wasm'));
const mf = new Miniflare({
  modules: true, scriptPath: path.join(outDir, 'worker.js'), modulesRoot: outDir,
  modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
  compatibilityDate: '2026-04-01',
  bindings: { KEYS: JSON.stringify(keys), TOKEN: token, AUDIENCE: audience },
  dataBlobBindings: { BUNDLE: path.resolve(bundlePath) },
});
const wd = { verify: [], skip: [] };
try {
  for (const p of ['/verify', '/skip']) {
    const r = await mf.dispatchFetch(`http://x${p}`);
    if (r.status !== 200) throw new Error(`worker ${p}: ${r.status} ${await r.text()}`);
  }
  const N = Math.min(ITER, 600);
  for (let i = 0; i < N + 50; i++) {
    for (const p of ['verify', 'skip']) {
      const t0 = performance.now();
      const r = await mf.dispatchFetch(`http://x/${p}`);
      await r.text();
      if (i >= 50) wd[p].push(performance.now() - t0);
    }
  }
} finally {
  await mf.dispose();
}
const v = stats(wd.verify), s0 = stats(wd.skip);
const out = {
  node: { what: 'useSnippet: parse + WebCrypto Ed25519 verify + checks, awaited', ...stats(node) },
  workerd: {
    what: 'per request, from the client: /verify minus /skip (same worker, same request path)',
    verify_request: v, baseline_request: s0,
    added_median_us: +(v.median_us - s0.median_us).toFixed(1),
  },
  token_bytes: token.length,
};
console.log(JSON.stringify(out, null, 2));
