// Node ESM consumer: `import { Slotwise } from "slotwise"` resolves the `node` export.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Slotwise, SlotwiseError } from 'slotwise';
import { fixtureBytes, serve, checkShopDecisions } from './helpers.mjs';

const SLOTS = { slots: ['hero', 'nope', 'offer'] };

test('node: load from bytes, decide, explain', async () => {
  const sw = await Slotwise.load({ bundle: fixtureBytes() });
  assert.equal(sw.error, null);
  assert.match(sw.bundleId, /^[0-9a-f]{16}$/);
  const d = sw.decide(SLOTS);
  checkShopDecisions(assert, d);
  const why = sw.explain(d.hero);
  assert.equal(why.code, 'default');
  assert.ok(why.text.length > 10);
  // Decision ids are fresh per page view.
  assert.notEqual(sw.decide(SLOTS).hero.decisionId, d.hero.decisionId);
});

test('node: load from a URL and from a Response', async () => {
  const server = await serve({}, { '/bundle.swb': { body: Buffer.from(fixtureBytes()) }, '/gone': { status: 404, body: 'x' } });
  try {
    checkShopDecisions(assert, (await Slotwise.load({ bundle: `${server.base}/bundle.swb` })).decide(SLOTS));
    checkShopDecisions(assert, (await Slotwise.load({ bundle: new URL(`${server.base}/bundle.swb`) })).decide(SLOTS));
    const response = new Response(fixtureBytes());
    checkShopDecisions(assert, (await Slotwise.load({ bundle: response })).decide(SLOTS));
    const missing = await Slotwise.load({ bundle: `${server.base}/gone` });
    assert.equal(missing.error.code, 'bundle.fetch_failed');
  } finally {
    await server.close();
  }
});

test('node: bad bundles give typed errors in strict mode, page defaults otherwise', async () => {
  const bytes = fixtureBytes();
  const cases = [
    [bytes.slice(0, 40), 'bundle.truncated'],
    [new TextEncoder().encode('<!doctype html>'), 'bundle.bad_magic'],
    [Uint8Array.from([...bytes.slice(0, 4), 7, ...bytes.slice(5)]), 'bundle.unsupported_version'],
    [new Uint8Array(0), 'bundle.truncated'],
  ];
  for (const [input, code] of cases) {
    await assert.rejects(Slotwise.load({ bundle: input, strict: true }), (e) => {
      assert.ok(e instanceof SlotwiseError);
      assert.equal(e.name, 'SlotwiseError');
      assert.equal(e.code, code);
      return true;
    });
    const sw = await Slotwise.load({ bundle: input });
    assert.equal(sw.error.code, code);
    const d = sw.decide({ slots: ['hero'] });
    assert.equal(d.hero.content, null);
    assert.equal(d.hero.reason, 'no_bundle');
    assert.ok(sw.explain(d.hero).text.length > 0);
  }
  await assert.rejects(Slotwise.load({ bundle: 42, strict: true }), { code: 'options.bundle' });
});

test('node: odd requests never throw', async () => {
  const sw = await Slotwise.load({ bundle: fixtureBytes() });
  assert.deepEqual(sw.decide(), {});
  assert.deepEqual(sw.decide({ slots: 'hero' }), {});
  const d = sw.decide({ slots: ['a,b', '', 'hero'] });
  assert.equal(d['a,b'].reason, 'bad_slot_name');
  assert.equal(d[''].reason, 'bad_slot_name');
  assert.equal(d.hero.reason, 'default');
});
