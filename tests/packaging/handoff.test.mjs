// The server-side-rendering handoff (`slotwise/handoff`) in Node: a render decides
// with `serverDecisions`, and the script it puts in the page carries exactly those
// decisions, bound to the bundle and checksummed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Slotwise } from 'slotwise';
import { handoffScript, readHandoff, serverDecisions } from 'slotwise/handoff';
import { fixtureBytes } from './helpers.mjs';

const inPage = (script) => {
  const json = /<script type="application\/slotwise\+json" id="slotwise-handoff">([^<]*)<\/script>/.exec(script)[1];
  return { querySelector: (q) => (q === 'script[type="application/slotwise+json"]' ? { textContent: json } : null) };
};

test('SSR: serverDecisions gives decisions to render and a handoff that reads back the same', async () => {
  const sw = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  const visitor = sw.visitor({ consent: { personalization: true } });
  const out = serverDecisions(sw, visitor, { path: '/', device: 'desktop' });
  assert.deepEqual(Object.keys(out.decisions).sort(), ['hero', 'offer', 'recs']);
  const recs = out.decisions.recs;
  assert.equal(recs.items.length, 2);
  assert.match(recs.decisionId, /^[0-9a-f]{16}$/);
  assert.ok(sw.explain(recs).text.length > 20, sw.explain(recs).text);

  const script = out.script(false);
  assert.ok(!script.slice(8, -9).includes('<'), 'nothing in the script can close it');
  const read = readHandoff(inPage(script), sw.bundleId);
  assert.equal(read.sent, false);
  assert.deepEqual([...read.names].sort(), ['hero', 'offer', 'recs']);
  // The browser's adoption of that handoff gives the same decisions.
  const browserSide = await Slotwise.load({ bundle: fixtureBytes(), storage: null });
  const adopted = browserSide._adopt(read.names, read.flat, read.sent);
  for (const slot of ['hero', 'offer', 'recs']) {
    assert.deepEqual({ ...adopted[slot] }, { ...out.decisions[slot] }, slot);
  }
  assert.equal(browserSide.explain(adopted.recs).text, sw.explain(recs).text);
  // Another bundle, or a changed decision, is refused (the browser then decides itself).
  assert.equal(readHandoff(inPage(script), 'other-bundle'), null);
  assert.equal(readHandoff(inPage(script.replace(/"d":\[(\d+)/, (m, n) => `"d":[${Number(n) + 1}`)), sw.bundleId), null);
  // Without a bundle: nothing to hand over.
  const none = await Slotwise.load({ bundle: new Uint8Array([1, 2, 3]), storage: null });
  assert.equal(serverDecisions(none, none.visitor(), {}), null);
});

test('handoff: any bundle id and slot names (quotes, <, non-ASCII) read back, over and over', () => {
  const flat = Uint32Array.from([1, 3, 0, 0, 0, 0, 0xdeadbeef, 7, 1, 4, 0, 2, 0, 1, 0, 0, 0, 9, 0, 0]);
  for (const [bundle, names] of [
    ['b1', ['hero', 'recs']],
    ['<b"2>', ['</script>', 'a"b']],
    ['é😀', ['\u2028', '\\']],
  ]) {
    for (const sent of [false, true, false]) {
      // (The second page of a bundle reuses the first one's prefix: the same bytes.)
      const script = handoffScript(bundle, names, flat, sent);
      assert.ok(!script.slice(8, -9).includes('<'), script);
      const read = readHandoff(inPage(script), bundle);
      assert.deepEqual(read, { names, flat, sent }, script);
      assert.equal(handoffScript(bundle, names, Array.from(flat), sent), script, 'an array of the same numbers');
    }
  }
});
