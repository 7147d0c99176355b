// `cargo xtask bench-edge` with BASELINE_PKG: the baseline package and this one in
// workerd at the same time (one miniflare each, same worker as bench-slotwise.mjs),
// their requests interleaved one by one, so both see the same load — on a shared
// machine, separate runs differ more than a change does. Added ms per request at
// the median and p99 (of per-request means of N iterations), cached snippet, on the
// 100 KB page and on the page of just the 4 slots. Prints one JSON line.
//
//   node bench-baseline.mjs BUNDLE TOKEN KEYS PAGE BASELINE_PKG PKG
import fs from 'node:fs';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { build } from 'esbuild';

const [bundlePath, tokenPath, keysPath, pagePath, ...pkgs] = process.argv.slice(2);
const RUNS = +(process.env.RUNS || 20);
const N = +(process.env.N || 100);
const MODES = (process.env.MODES || 'pass,cached,small_pass,small_cached').split(',');
const token = fs.readFileSync(tokenPath, 'utf8').trim();
const keys = fs.readFileSync(keysPath, 'utf8');
const { Slotwise } = await import(path.resolve(pkgs[0], 'node.js'));
const sw = await Slotwise.load({ bundle: new Uint8Array(fs.readFileSync(bundlePath)), storage: null });
const v = sw.visitor({ consent: { personalization: true } });
for (const item of ['sku-1', 'sku-5', 'sku-9']) v.track({ type: 'view', item });
v.track({ type: 'view', category: 'running-shoes' });
const cookie = `sw_consent=personalization; sw_session=${Buffer.from(v.sessionBytes()).toString('base64url')}; sw_profile=${token}`;
const worker = fs.readFileSync(new URL('./bench-baseline-worker.js', import.meta.url), 'utf8');
const mfs = [];
for (const [k, pkgDir] of pkgs.entries()) {
  const outDir = path.resolve(`out-baseline-${k}`);
  fs.mkdirSync(outDir, { recursive: true });
  fs.copyFileSync(pagePath, path.join(outDir, 'page.html'));
  await build({
    stdin: { contents: worker, resolveDir: outDir, loader: 'js' },
    outfile: path.join(outDir, 'worker.js'), bundle: true, format: 'esm',
    conditions: ['workerd', 'worker', 'browser'], external: ['*.wasm', '*.html'], logLevel: 'error',
    alias: { slotwise: path.resolve(pkgDir, 'workerd.js') },
  });
  fs.copyFileSync(path.join(pkgDir, 'slotwise_edge_bg.wasm'), path.join(outDir, 'slotwise_edge_bg.wasm'));
  mfs.push(new Miniflare({
    modules: true, scriptPath: path.join(outDir, 'worker.js'), modulesRoot: outDir,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
      { type: 'Text', include: ['**/*.html'] },
    ],
    compatibilityDate: '2026-04-01',
    bindings: { KEYS: keys, COOKIE: cookie },
    dataBlobBindings: { BUNDLE: path.resolve(bundlePath) },
  }));
}
const times = mfs.map(() => Object.fromEntries(MODES.map((m) => [m, []])));
try {
  for (const [k, mf] of mfs.entries()) for (const mode of MODES) {
    const o = await (await mf.dispatchFetch(`http://x/${mode}?n=20`)).json();
    if (!mode.includes('pass') && o.header !== 'filled; snippet=cached') throw new Error(`${pkgs[k]} /${mode}: x-slotwise is ${o.header}`);
  }
  for (let r = 0; r < RUNS; r++) {
    for (const [k, mf] of mfs.entries()) for (const mode of MODES) {
      const out = await (await mf.dispatchFetch(`http://x/${mode}?n=${N}`)).json();
      times[k][mode].push(out.ms);
    }
  }
} finally {
  for (const mf of mfs) await mf.dispose();
}
const quantile = (xs, p) => Float64Array.from(xs).sort()[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))];
const result = { what: 'baseline and this package interleaved in workerd', runs: RUNS, iterations_per_request: N };
for (const [k, t] of times.entries()) {
  const out = {};
  for (const mode of MODES) {
    if (mode.includes('pass')) continue;
    const base = quantile(t[mode.startsWith('small') ? 'small_pass' : 'pass'], 0.5);
    out[mode] = { added_median_ms: quantile(t[mode], 0.5) - base, added_p99_ms: quantile(t[mode], 0.99) - base };
  }
  result[k === 0 ? 'baseline' : 'package'] = out;
}
console.log(JSON.stringify(result));
