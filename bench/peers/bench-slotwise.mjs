// Slotwise (wasm in Node) on the peer workload, through the same harness as the peers.
//
// `cargo xtask bench` copies this file (and to-slotwise.mjs) next to the peers' files,
// installs the built package as node_modules/slotwise, converts the workload into an
// authoring directory (to-slotwise.mjs), compiles it with `slotwise bundle build` and
// writes the bundle as base64 text to $DATA_DIR/slotwise-bundle.b64 (the harness reads
// data files as text), plus the same bundle without the experiment to
// $DATA_DIR/slotwise-bundle-noexp.b64 (used only by the correctness check).
//
// Native mapping of the workload: see to-slotwise.mjs (4 Priority slots, 50 candidates
// each, one `include` rule per candidate in GrowthBook syntax; the hero test is a
// GrowthBook-hashed experiment on slot-1 whose alt arms pin the alt items).
// Per request the app hands Slotwise the visitor id (GrowthBook's hashAttribute `id`),
// its product_view events as `track({type:'view', category})`, and the 31 attributes
// as the page context; decide() returns the 4 slots with the experiment applied.
// Modes:
//   full        per request: sw.visitor({id}), track() the ~20 product_view events,
//               decide({slots: 4, context: 31 attributes}), then v.free(): a server's
//               per-request visitor releases its engine memory    [primary]
//   full_gc     the same without free(): the garbage collector reclaims the visitor
//               later (its pauses land in the tail, and some in the median)
//   decide_only visitor already built with its events (setup); decide() only
//
// Correctness (before any timing, in every warm process, all 1,000 visitors): the
// timed decision must equal applyArm(referenceDecide(...).slots, arm) with `arm`
// GrowthBook's own assignment (the @growthbook/growthbook package, same payload), and
// the experiment variation Slotwise reports must be that arm; any mismatch throws.
// The harness's `agree` compares the personalised slots with the reference: for that,
// slot-1's personalised choice comes from the no-experiment bundle (visitors in an alt
// arm never see it in the timed bundle).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DATA_DIR = process.env.DATA_DIR || '/tmp/sa-bench/data';
const INLINE = path.join(HERE, 'slotwise-wasm-inline.mjs');

const fromBase64 = (text) => new Uint8Array(Buffer.from(text.trim(), 'base64'));
const readBundle = (name) => fromBase64(fs.readFileSync(path.join(DATA_DIR, name), 'utf8'));

// The esbuild variant runs the browser module (no page rewriter), with its wasm inlined
// as base64 so the bundle is one self-contained file (browser builds fetch the .wasm).
function writeInlineWasm() {
  const wasm = fs.readFileSync(path.join(HERE, 'node_modules/slotwise/slotwise_wasm_bg.wasm'));
  fs.writeFileSync(INLINE, `export const WASM_BASE64 = ${JSON.stringify(wasm.toString('base64'))};\n`);
}
const BUNDLE_ENTRY = `
import * as wasm from './node_modules/slotwise/slotwise_wasm.js';
import { createSlotwise } from './node_modules/slotwise/slotwise.js';
import { WASM_BASE64 } from './slotwise-wasm-inline.mjs';
export const Slotwise = createSlotwise(wasm, () => {
  const s = atob(WASM_BASE64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  wasm.initSync({ module: bytes });
});
`;

// The slot's shown id: the first item, or the default content's id.
const shown = (d) => (d.items.length ? d.items[0] : d.content ? d.content.id : null);

export const peer = {
  name: 'slotwise',
  pkg: 'slotwise',
  url: import.meta.url,
  dataFile: 'slotwise-bundle.b64',
  bundles: {
    headline: "export { Slotwise } from 'slotwise';",
    bench: BUNDLE_ENTRY,
  },
  modes: ['full', 'full_gc', 'decide_only'],
  modeNotes: {
    full: 'sw.visitor({id}) + track() of the ~20 product_view events + decide(4 slots, context = 31 attributes) + free() of the visitor; experiment applied by the engine',
    full_gc: 'as full, without free(): the visitor is left to the garbage collector',
    decide_only: 'visitor built with its events beforehand; decide(4 slots, context = 31 attributes)',
  },

  construct(mod, raw) {
    // Slotwise.load is async (it instantiates the wasm): firstDecision awaits it, so
    // the harness's construct_ms excludes instantiation and first_decision_ms includes it.
    return { sw: mod.Slotwise.load({ bundle: fromBase64(raw), storage: null, strict: true }) };
  },

  async firstDecision(mod, client, v0) {
    const sw = await client.sw;
    const a = v0.visitor.attrs;
    const v = sw.visitor({ id: a.id });
    for (const e of v0.visitor.events) if (e.type === 'product_view') v.track({ type: 'view', category: e.category });
    const d = v.decide({ slots: ['slot-1', 'slot-2', 'slot-3', 'slot-4'], context: a });
    return [d['slot-1'].variant && d['slot-1'].variant.variation, ...Object.values(d).map(shown)];
  },

  async setup(mod, W, catalog, visitors, mode) {
    const sw = await mod.Slotwise.load({ bundle: readBundle('slotwise-bundle.b64'), storage: null, strict: true });
    const plain = await mod.Slotwise.load({ bundle: readBundle('slotwise-bundle-noexp.b64'), storage: null, strict: true });
    const SLOTS = W.SLOT_KEYS;
    const request = (a) => ({ slots: SLOTS, context: a });
    const visitorOf = (s, v) => {
      const h = s.visitor({ id: v.attrs.id });
      const ev = v.events;
      for (let i = 0; i < ev.length; i++) {
        const e = ev[i];
        if (e.type === 'product_view') h.track({ type: 'view', category: e.category });
      }
      return h;
    };
    const slotsOf = (d) => {
      const out = [];
      for (let s = 0; s < SLOTS.length; s++) out.push(shown(d[SLOTS[s]]));
      return out;
    };
    const prebuilt = mode === 'decide_only' ? visitors.map((v) => visitorOf(sw, v)) : null;

    const modes = {
      full(i) {
        const v = visitors[i];
        const h = visitorOf(sw, v);
        const slots = slotsOf(h.decide(request(v.attrs)));
        h.free();
        return slots;
      },
      full_gc(i) {
        const v = visitors[i];
        return slotsOf(visitorOf(sw, v).decide(request(v.attrs)));
      },
      decide_only(i) {
        return slotsOf(prebuilt[i].decide(request(visitors[i].attrs)));
      },
    };

    // ---- correctness, before timing: every visitor, against GrowthBook's arm ----
    const { GrowthBookClient } = await import('@growthbook/growthbook');
    const gb = new GrowthBookClient({ trackingCallback: () => {} });
    gb.initSync({ payload: W.gbPayload(catalog) });
    const mismatches = [];
    const armOf = (i) => {
      const v = (mode === 'decide_only' ? prebuilt[i] : visitorOf(sw, visitors[i])).decide(request(visitors[i].attrs));
      return v['slot-1'].variant ? v['slot-1'].variant.variation : null;
    };
    for (let i = 0; i < visitors.length; i++) {
      const v = visitors[i];
      const gbArm = gb.getFeatureValue(W.HERO_TEST, 'personalized', { attributes: v.attrs });
      const want = W.applyArm(W.referenceDecide(catalog, v).slots, gbArm);
      const got = modes[mode](i);
      const arm = armOf(i);
      if (arm !== gbArm || got.some((x, s) => x !== want[s])) {
        mismatches.push({ visitor: i, id: v.attrs.id, gbArm, slotwiseArm: arm, want, got });
      }
    }
    if (mismatches.length) {
      const show = JSON.stringify(mismatches.slice(0, 5), null, 1);
      throw new Error(`slotwise: ${mismatches.length} of ${visitors.length} visitors disagree with the reference + GrowthBook's arm (mode ${mode}); first ones:\n${show}`);
    }
    process.stderr.write(`[slotwise] ${mode}: all ${visitors.length} visitors equal the reference + GrowthBook's arm\n`);

    return {
      modes,
      // For the harness's `agree`: personalised slots (slot-1 from the no-experiment
      // bundle) and the arm of the timed bundle.
      check: (i) => {
        const v = visitors[i];
        return { arm: armOf(i), slots: slotsOf(visitorOf(plain, v).decide(request(v.attrs))) };
      },
    };
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  if ((process.argv[2] || 'all') === 'all') writeInlineWasm();
  await runMain(peer);
}
