// The decision handoff: an edge (or server) that filled a page's slots writes its
// decisions into the page, and the browser SDK adopts them instead of deciding
// again — so hydration never changes an edge-filled slot, `explain` works for the
// edge's decisions, and each impression is counted once.
//
// In the page, after the document (an inert script the browser never runs):
//
//   <script type="application/slotwise+json" id="slotwise-handoff">
//   {"v":1,"b":"<bundle id>","s":["hero",...],"d":[...],"i":1,"h":"<hash>"}</script>
//
// `b`: the bundle the decisions were made with (the browser adopts them only with the
// same bundle loaded); `s`: the slot names of the records; `d`: the decisions, flat
// as in `Engine.decide` (slot, content, reason, because, experiment, variation, id,
// items, matched rules: indices into the bundle — no profile or session data);
// `i`: 1 when the edge sent the impressions (the browser then sends none for these
// decisions); `h`: FNV-1a (32-bit) of the other fields, a checksum against truncation
// and tampering by accident (not a signature: a page can be edited by whoever serves
// it anyway). Anything that does not check out is ignored: the browser decides.
//
// Server-side rendering (Node): `serverDecisions(sw, visitor, context)` decides the
// page's slots and returns the decisions to render with and the script to put in the
// page — see README "Handoff". (An HTML-streaming server can also run pages through
// `handle` from `slotwise/worker`, which appends the script itself.)

import { decisionRecords } from './slotwise.js';

/** The script element's type. */
export const HANDOFF_TYPE = 'application/slotwise+json';

/** FNV-1a (32-bit) over the UTF-16 code units of `text`, continued from `h`. */
function fnvFrom(h, text) {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x1000193);
  return h;
}

const FNV_BASIS = 0x811c9dc5;
const fnv = (text) => (fnvFrom(FNV_BASIS, text) >>> 0).toString(16);

const body = (b, s, d, i) => JSON.stringify({ v: 1, b, s, d, i });

/**
 * The JSON of a handoff up to its decisions depends only on the bundle and the slot
 * names, the same on every page of a site: kept with its hash (FNV-1a is computed
 * left to right, so a page hashes only its own decisions) and its escaped form.
 */
const PREFIXES = new Map(); // prefix JSON → { hash, escaped }
const MAX_PREFIXES = 16;

function prefixOf(json) {
  let p = PREFIXES.get(json);
  if (!p) {
    if (PREFIXES.size >= MAX_PREFIXES) PREFIXES.clear();
    p = { hash: fnvFrom(FNV_BASIS, json), escaped: escapeLt(json) };
    PREFIXES.set(json, p);
  }
  return p;
}

/** `<` as `\u003c`, so no `</script>` can end the element early. */
const escapeLt = (json) => json.replace(/</g, '\\u003c');

/**
 * The `<script>` carrying a page's decisions: `bundleId`, the `names` of the slots
 * of the `flat` records (in order), `sent` whether impressions were sent already.
 */
export function handoffScript(bundleId, names, flat, sent) {
  const i = sent ? 1 : 0;
  let full;
  if (typeof bundleId === 'string' && flat instanceof Uint32Array) {
    // Byte for byte the JSON of `body` (the same keys in the same order; a
    // Uint32Array joins as JSON writes its numbers), without building it twice.
    const prefix = prefixOf(`{"v":1,"b":${JSON.stringify(bundleId)},"s":${JSON.stringify(names)},"d":[`);
    const rest = `${flat.join(',')}],"i":${i}`;
    const h = (fnvFrom(prefix.hash, `${rest}}`) >>> 0).toString(16);
    full = `${prefix.escaped}${rest},"h":"${h}"}`;
  } else {
    const json = body(bundleId, names, Array.from(flat), i);
    full = escapeLt(`${json.slice(0, -1)},"h":"${fnv(json)}"}`);
  }
  return `<script type="${HANDOFF_TYPE}" id="slotwise-handoff">${full}</script>`;
}

/**
 * The handoff in `root` (a document or element) for `bundleId`, checked:
 * `{ names, flat, sent }`, or null when there is none or it does not check out.
 */
export function readHandoff(root, bundleId) {
  try {
    const el = root?.querySelector?.(`script[type="${HANDOFF_TYPE}"]`);
    if (!el || !bundleId) return null;
    const o = JSON.parse(el.textContent);
    if (o.v !== 1 || o.b !== bundleId || !Array.isArray(o.s) || !Array.isArray(o.d)) return null;
    if (fnv(body(o.b, o.s, o.d, o.i)) !== o.h) return null;
    return { names: o.s.map(String), flat: Uint32Array.from(o.d), sent: o.i === 1 };
  } catch {
    return null;
  }
}

/**
 * Decides every slot of the bundle for `visitor` (from `sw.visitor(...)`, Node or edge
 * entry) with the page `context`, for a server-side render: `{ decisions, script }`
 * — `decisions` as `decide` returns them (keyed by slot; `sw.explain` works on
 * them), `script(sent)` the handoff to put in the page (`sent`: whether you sent their
 * impressions). Null without a bundle (render the defaults).
 */
export function serverDecisions(sw, visitor, context = {}) {
  const rewriter = visitor && visitor._pageRewriter(context);
  if (!rewriter) return null;
  const flat = rewriter.decisions;
  rewriter.free();
  const names = [];
  for (const r of decisionRecords(flat)) names.push(sw._engine.slotName(r.slotPlus - 1));
  const decisions = sw._adopt(names, flat, true);
  return decisions && { decisions, script: (sent) => handoffScript(sw.bundleId, names, flat, sent) };
}
