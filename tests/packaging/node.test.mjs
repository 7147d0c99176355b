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
  // Many slots in one request: every one gets its decision.
  const many = Array.from({ length: 5000 }, (_, i) => `s${i}`).concat('hero');
  const all = sw.decide({ slots: many });
  assert.equal(Object.keys(all).length, many.length);
  assert.equal(all.s4999.reason, 'unknown_slot');
  assert.equal(all.hero.reason, 'default');
});

test('node: rules read the page context and the session; explain says why', async () => {
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  // Nothing known: the hero's candidates are gated by rules, so the default shows.
  let d = sw.decide({ slots: ['hero', 'recs'] });
  assert.equal(d.hero.reason, 'default');
  assert.deepEqual(d.recs.items, ['sku-trail-1', 'sku-road-1']);
  assert.equal(d.recs.reason, 'featured');
  // Page context: cold weather makes the jacket eligible; mobile boosts the bag.
  d = sw.decide({ slots: ['hero', 'recs'], context: { weather: 'cold', device: 'mobile' } });
  assert.deepEqual(d.hero.items, ['sku-jacket-1']);
  assert.deepEqual(d.hero.rules, ['cold-weather']);
  assert.deepEqual(d.recs.items, ['sku-bag-1', 'sku-trail-1']);
  assert.deepEqual(d.recs.rules, ['bags-on-mobile']);
  // Session: two running-shoe views make the trail runner the hero, with the rule's sentence.
  sw.track({ type: 'view', item: 'sku-road-1' });
  sw.track({ type: 'view', category: 'running-shoes' });
  d = sw.decide({ slots: ['hero', 'recs'] });
  assert.deepEqual(d.hero.items, ['sku-trail-1']);
  assert.equal(d.hero.reason, 'rule');
  assert.equal(sw.explain(d.hero).text, 'Because you have been looking at running shoes.');
  // No item twice on a page.
  assert.ok(!d.recs.items.includes('sku-trail-1'));
  // A purchase is never recommended again.
  sw.track({ type: 'purchase', item: 'sku-trail-1', value: 129 });
  d = sw.decide({ slots: ['hero', 'recs'] });
  assert.notDeepEqual(d.hero.items, ['sku-trail-1']);
  assert.ok(!d.recs.items.includes('sku-trail-1'));
});

test('node: a custom event type named like an Object.prototype key is a custom event', async () => {
  // Two views of running shoes make the trail runner the hero (see above); site-defined
  // types named 'constructor', 'toString' or '__proto__' must not count as views.
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'CONSTRUCTOR']) {
    sw.track({ type, category: 'running-shoes' });
  }
  assert.equal(sw.decide({ slots: ['hero'] }).hero.reason, 'default');
  sw.track({ type: 'view', category: 'running-shoes' });
  sw.track({ type: 'VIEW', category: 'running-shoes' });
  assert.equal(sw.decide({ slots: ['hero'] }).hero.reason, 'rule');
});

test('node: the session is stored only with personalization consent; revoking deletes it', async () => {
  const store = new Map();
  const storage = { get: (k) => store.get(k) ?? null, set: (k, v) => store.set(k, v), remove: (k) => store.delete(k) };
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage });
  assert.deepEqual(sw.consent, { necessary: true, personalization: false, measurement: false, advertising: false });
  sw.track({ type: 'view', category: 'running-shoes' });
  assert.equal(store.size, 0, 'nothing stored without consent');
  const idBefore = sw.decide({ slots: ['hero'] }).hero.decisionId;
  assert.ok(idBefore);
  sw.setConsent({ personalization: true });
  assert.equal(store.size, 1, 'granting stores the in-memory session at once');
  sw.track({ type: 'view', category: 'running-shoes' });
  // A new page with consent resumes the stored session (two views → the rule applies).
  const next = await Slotwise.load({ bundle: fixtureBytes(), storage, consent: { personalization: true } });
  assert.equal(next.decide({ slots: ['hero'] }).hero.reason, 'rule');
  next.setConsent({ personalization: false });
  assert.equal(store.size, 0, 'revoking deletes what was stored');
  // Without consent a stored session is not even read.
  store.set('slotwise.session', 'garbage');
  const anon = await Slotwise.load({ bundle: fixtureBytes(), storage });
  assert.equal(anon.decide({ slots: ['hero'] }).hero.reason, 'default');
  const broken = await Slotwise.load({ bundle: fixtureBytes(), storage, consent: { personalization: true } });
  assert.equal(broken.decide({ slots: ['hero'] }).hero.reason, 'default', 'an unreadable session starts afresh');
});

test('node: many visitors on one loaded bundle (edge / server use)', async () => {
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  const a = sw.visitor({ consent: { personalization: true } });
  const b = sw.visitor();
  a.track({ type: 'view', category: 'running-shoes' });
  a.track({ type: 'view', category: 'running-shoes' });
  assert.equal(a.decide({ slots: ['hero'] }).hero.reason, 'rule');
  assert.equal(b.decide({ slots: ['hero'] }).hero.reason, 'default');
  assert.notEqual(a.id, b.id);
  // A's session travels as bytes (a cookie at the edge) and resumes elsewhere.
  const bytes = a.sessionBytes();
  assert.ok(bytes.length > 0 && bytes.length <= 768);
  assert.equal(b.sessionBytes().length, 0, 'no bytes without consent');
  const again = sw.visitor({ session: bytes, consent: { personalization: true } });
  assert.equal(again.id, a.id);
  assert.equal(again.decide({ slots: ['hero'] }).hero.reason, 'rule');
  // Hostile contexts never throw.
  const cyclic = {}; cyclic.self = cyclic;
  for (const context of [cyclic, { a: 1n === 1n, f() {} }, 'str', 42, [1, 2], { deep: JSON.parse('['.repeat(500) + ']'.repeat(500)) }]) {
    assert.equal(a.decide({ slots: ['hero'], context }).hero.slot, 'hero');
  }
  // Only the context's own attributes count (the JS sends just the keys rules read).
  assert.deepEqual(b.decide({ slots: ['hero'], context: { weather: 'cold' } }).hero.items, ['sku-jacket-1']);
  assert.equal(b.decide({ slots: ['hero'], context: Object.create({ weather: 'cold' }) }).hero.reason, 'default');
  // Non-ASCII text is encoded whole wherever it starts, and the attribute after it
  // (the context's keys go in the order rules first read them: weather, then device)
  // still reads right; a slot name may be non-ASCII too (unknown here).
  for (const weather of ['cöld', 'é', '雪', 'x'.repeat(600) + '€']) {
    const d = sw.visitor().decide({ slots: ['hero', 'recs'], context: { device: 'mobile', weather } });
    assert.equal(d.hero.reason, 'default');
    assert.deepEqual(d.recs.items, ['sku-bag-1', 'sku-trail-1']);
  }
  const named = sw.visitor().decide({ slots: ['ヒーロー', 'hero'], context: { weather: 'cold', device: 'mobilé' } });
  assert.equal(named['ヒーロー'].reason, 'unknown_slot');
  assert.deepEqual(named.hero.items, ['sku-jacket-1']);
  // free() releases a visitor now (end of a server request); the handle then decides
  // like one without a bundle, and freeing twice is harmless.
  b.free();
  b.track({ type: 'view', category: 'running-shoes' });
  assert.equal(b.decide({ slots: ['hero'] }).hero.reason, 'no_bundle');
  b.free();
});

test('node: a visitor made after another was freed starts empty (freed visitors are reused)', async () => {
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  const fresh = sw.visitor();
  const plain = fresh.decide({ slots: ['hero', 'recs'] });
  fresh.free();
  for (let round = 0; round < 12; round++) {
    const a = sw.visitor({ consent: { personalization: true }, id: `user-${round}` });
    a.track({ type: 'view', category: 'running-shoes' });
    a.track({ type: 'view', category: 'running-shoes' });
    a.track({ type: 'add_to_cart', item: 'sku-road-1', value: 80 });
    assert.equal(a.decide({ slots: ['hero'] }).hero.reason, 'rule');
    assert.ok(a.sessionBytes().length > 0);
    a.free();
    // The next visitor (on a's engine memory when reused) has none of a's state.
    const b = sw.visitor();
    assert.match(b.id, /^[0-9a-f]{16}$/);
    assert.equal(b.consent.personalization, false);
    assert.equal(b.sessionBytes().length, 0);
    b.setConsent({ personalization: true });
    const d = b.decide({ slots: ['hero', 'recs'] });
    assert.equal(d.hero.reason, 'default');
    assert.deepEqual(d.recs.items, plain.recs.items);
    // Its session holds only what it tracks itself.
    b.track({ type: 'view', category: 'running-shoes' });
    assert.equal(b.decide({ slots: ['hero'] }).hero.reason, 'default', 'one view is not two');
    b.free();
  }
});

test('node: profile snippets are verified with WebCrypto Ed25519 (shared vectors)', async () => {
  const { readFileSync } = await import('node:fs');
  const vectors = JSON.parse(readFileSync(new URL('./vectors/snippets.json', import.meta.url), 'utf8'));
  const keys = Object.fromEntries(vectors.keys.map((k) => [k.kid, k.public]));
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null, keys });
  assert.equal(sw.site, 'shop.example');
  assert.equal(sw.profile, null);
  for (const c of vectors.cases) {
    const v = sw.visitor({ consent: { personalization: true } });
    const result = await v.useSnippet(c.token, { audience: c.audience, now: c.now });
    const want = c.expect === 'ok' ? { ok: true, reason: null } : { ok: false, reason: c.expect };
    assert.deepEqual(result, want, c.name);
  }
  // Through load: a forged cookie is ignored with its reason, never an error.
  const page = await Slotwise.load({ bundle: fixtureBytes(), storage: null, keys, snippet: 'forged.cookie' });
  assert.deepEqual(page.profile, { ok: false, reason: 'snippet.malformed' });
  assert.equal(page.decide({ slots: ['hero'] }).hero.reason, 'default');
});

test('node: consent from real TC strings (IAB encoder vectors), Consent Mode and GPC', async () => {
  const { readFileSync } = await import('node:fs');
  const vectors = JSON.parse(readFileSync(new URL('./vectors/tcf.json', import.meta.url), 'utf8'));
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null, policy: { vendorId: vectors.vendor_id } });
  for (const c of vectors.cases) {
    const v = sw.visitor({ consent: { tcf: c.tc_string, gpc: false } });
    const { personalization, measurement, advertising } = v.consent;
    assert.deepEqual({ personalization, measurement, advertising }, c.expect, c.name);
  }
  // LI for P3-P6 never grants personalization (TCF v2.2).
  const li = vectors.cases.find((c) => c.name.startsWith('v2.2 raw: LI bits set for P3-P6'));
  assert.equal(sw.visitor({ consent: { tcf: li.tc_string } }).consent.personalization, false);
  // Explicit beats TCF; GPC turns advertising off; a broken TC string is ignored with its code.
  const all = vectors.cases[0].tc_string;
  const v = sw.visitor({ consent: { tcf: all, personalization: false, gpc: true } });
  assert.equal(v.consent.personalization, false);
  assert.equal(v.consent.measurement, true);
  assert.equal(v.consent.advertising, false);
  const r = v.setConsent({ tcf: 'not-a-tc-string', consentMode: { personalization_storage: 'granted', analytics_storage: 'denied' } });
  assert.ok(r.tcfError && r.tcfError.startsWith('tcf.'), r.tcfError);
  assert.equal(r.consent.personalization, true);
  assert.equal(r.consent.measurement, false);
  // The site's default applies when nobody says anything.
  const opt = await Slotwise.load({ bundle: fixtureBytes(), storage: null, policy: { default: { measurement: true } } });
  assert.equal(opt.consent.measurement, true);
  assert.equal(opt.consent.personalization, false);
});

test('node: frequency caps count what was shown; assignments do not jump when consent comes', async () => {
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  const mobile = { slots: ['recs'], context: { device: 'mobile' } };
  // The bag is capped at 2 impressions a day: shown twice, then the next candidates.
  assert.equal(sw.decide(mobile).recs.items[0], 'sku-bag-1');
  assert.equal(sw.decide(mobile).recs.items[0], 'sku-bag-1');
  assert.ok(!sw.decide(mobile).recs.items.includes('sku-bag-1'));

  // Without consent the visitor's id lives for the page; granting consent keeps it,
  // so the experiment arm does not change, and the stored session carries it on.
  const v = sw.visitor();
  const before = v.decide({ slots: ['offer'] }).offer.variant;
  assert.equal(before.experiment, 'offer-copy');
  v.setConsent({ personalization: true });
  assert.deepEqual(v.decide({ slots: ['offer'] }).offer.variant, before);
  const resumed = sw.visitor({ session: v.sessionBytes(), consent: { personalization: true } });
  assert.equal(resumed.id, v.id);
  assert.deepEqual(resumed.decide({ slots: ['offer'] }).offer.variant, before);
  // Both arms occur across visitors, with the reason matching the arm.
  const arms = new Set();
  for (let i = 0; i < 40; i++) {
    const d = sw.visitor().decide({ slots: ['offer'] }).offer;
    arms.add(d.variant.variation);
    assert.equal(d.reason, d.variant.variation === 'control' ? 'control' : 'default');
  }
  assert.deepEqual([...arms].sort(), ['control', 'personalized']);
});

test('node: impressions, clicks and conversions are sent only with measurement consent', async () => {
  const sent = [];
  const signals = {
    endpoint: 'https://origin.example/v1/signals',
    fetch: async (url, init) => { sent.push({ url, body: new Uint8Array(init.body) }); return new Response(null, { status: 202 }); },
    setTimeout: () => 0, clearTimeout: () => {},
  };
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null, signals });
  const d = sw.decide({ slots: ['recs', 'hero'] });
  sw.click(d.recs, 'sku-road-1');
  sw.convert({ value: 119, decision: d.recs });
  await sw.flush();
  assert.equal(sent.length, 0, 'nothing leaves without measurement consent');
  sw.setConsent({ measurement: true });
  await sw.flush();
  assert.equal(sent.length, 1);
  const body = sent[0].body;
  assert.deepEqual([...body.subarray(0, 5)], [0x53, 0x57, 0x47, 0x31, 1]); // SWG1 v1
  assert.equal(body[5], 4, '2 impressions (recs shows 2 items; hero its default: none) + click + conversion');
  // Denied: buffered signals are discarded and nothing more is sent.
  const quiet = [];
  const sw2 = await Slotwise.load({ bundle: fixtureBytes(), storage: null, signals: { ...signals, fetch: async (u, i) => { quiet.push(i); return new Response(null, { status: 202 }); } } });
  sw2.decide({ slots: ['recs'] });
  sw2.setConsent({ measurement: false });
  sw2.setConsent({ measurement: true });
  await sw2.flush();
  assert.equal(quiet.length, 0, 'signals from before the denial are gone');
});

test('node: the TC string vectors are what the IAB encoder makes today', async () => {
  // Runs tests/vectors/make-tcf.mjs (the IAB Tech Lab's @iabtechlabtcf/core encoder)
  // and checks the committed vectors are exactly its output, so the consent test
  // above decodes strings built by the reference encoder.
  const { execFileSync } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const here = fileURLToPath(new URL('.', import.meta.url));
  const nodePath = `${here}../../node_modules`;
  const fresh = execFileSync(process.execPath, [`${here}vectors/make-tcf.mjs`], { env: { ...process.env, NODE_PATH: nodePath }, encoding: 'utf8' });
  const committed = readFileSync(new URL('./vectors/tcf.json', import.meta.url), 'utf8');
  assert.deepEqual(JSON.parse(fresh), JSON.parse(committed));
});
