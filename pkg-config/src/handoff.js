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

function fnv(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x1000193);
  return (h >>> 0).toString(16);
}

const body = (b, s, d, i) => JSON.stringify({ v: 1, b, s, d, i });

/**
 * The `<script>` carrying a page's decisions: `bundleId`, the `names` of the slots
 * of the `flat` records (in order), `sent` whether impressions were sent already.
 */
export function handoffScript(bundleId, names, flat, sent) {
  const d = Array.from(flat);
  const json = body(bundleId, names, d, sent ? 1 : 0);
  const h = fnv(json);
  const full = `${json.slice(0, -1)},"h":"${h}"}`.replace(/</g, '\\u003c');
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
