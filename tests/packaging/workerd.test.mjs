// Edge consumer: the worker is bundled by esbuild with the conditions wrangler uses
// (`workerd`, `worker`, `browser`), the .wasm and the bundle stay separate modules,
// and it runs in workerd through miniflare.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { here, checkShopDecisions } from './helpers.mjs';

test('workerd: the worker entry decides inside workerd', async () => {
  const out = path.join(here, 'worker-dist');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, 'fixtures'), { recursive: true });
  await build({
    entryPoints: [path.join(here, 'worker.mjs')],
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
  assert.match(source, /from "\.\/slotwise_edge_bg\.wasm"/, 'the workerd entry was chosen');

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
  });
  try {
    const res = await mf.dispatchFetch('http://shop.example/?slots=hero|nope|offer');
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.error, null);
    checkShopDecisions(assert, body.d);
    assert.equal(body.why.code, 'default');
  } finally {
    await mf.dispose();
  }
});
