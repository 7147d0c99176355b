// Declarative slots in the browser: `sw.hydrate(root)` fills every
// `<el data-slotwise-slot="name">` under `root` from one decision each.
//
// - Content is written with DOM APIs only (textContent, attributes): never parsed as
//   HTML. Links and images must be http(s) or relative URLs; anything else is dropped.
// - A decision without content (no bundle, unknown slot) keeps the page's own markup.
// - A `<template>` inside the slot is the site's markup for the content: elements
//   with `data-slotwise-field="title|body|cta|price|image|link"` are filled.
// - After deciding, each slot gets `data-slotwise-state` (and `-reason`, `-decision`):
//   the no-flicker CSS hides slots until that attribute is there, for at most a
//   short timeout (see README: "No flicker").
// - `data-slotwise-live` slots re-decide after each `sw.track(...)` (in-session
//   adaptation without a reload); `refresh(context)` re-decides them all (SPA views),
//   as does a preference change (`sw.preferences.set`: muted categories vanish at once).
// - A click inside a slot records a click signal for its decision (the item from the
//   nearest `data-slotwise-item`, else the decision's first).
// - A page an edge filled carries its decisions (handoff.js): the first hydrate
//   adopts them for the slots they cover — their markup is left exactly as it is
//   (only the state attributes are set), no decision is made again, and no impression
//   the edge sent is sent twice. Later `refresh` / live updates decide afresh.

import { readHandoff } from './handoff.js';

const SLOT = '[data-slotwise-slot]';

function safeUrl(value) {
  try {
    const url = new URL(String(value), globalThis.document?.baseURI);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

function fill(node, field, content) {
  const v = content[field];
  if (v == null || v === '') return node.remove();
  if (field === 'image' || field === 'link') {
    const url = safeUrl(v);
    if (!url) return field === 'image' ? node.remove() : undefined;
    node.setAttribute(field === 'image' ? 'src' : 'href', url);
    if (field === 'image' && !node.hasAttribute('alt')) node.setAttribute('alt', content.title ?? '');
  } else {
    node.textContent = field === 'price' ? Number(v).toFixed(2) : String(v);
  }
}

/** The default rendering: the slot's `<template>`, or a plain card. */
export function renderContent(el, decision) {
  const content = decision.content;
  const doc = el.ownerDocument;
  const template = el.querySelector(':scope > template');
  let out;
  if (template) {
    out = template.content.cloneNode(true);
    for (const node of out.querySelectorAll('[data-slotwise-field]')) fill(node, node.getAttribute('data-slotwise-field'), content);
  } else {
    const link = safeUrl(content.link);
    out = doc.createElement(link ? 'a' : 'div');
    out.className = 'slotwise-content';
    if (link) out.href = link;
    for (const [field, tag] of [['image', 'img'], ['title', 'strong'], ['body', 'p'], ['price', 'span'], ['cta', 'span']]) {
      const node = doc.createElement(tag);
      node.className = `slotwise-${field}`;
      out.append(node);
      fill(node, field, content);
    }
  }
  const first = template ? out.firstElementChild : out;
  if (first && decision.items[0] != null) first.setAttribute('data-slotwise-item', decision.items[0]);
  el.replaceChildren(...(template ? [template] : []), out);
}

/**
 * Decides and fills the slots under `root`. Options: `context` (the page attributes
 * rules read; `path` defaults to location.pathname), `render(el, decision)` (the
 * site's own rendering; return false to let the SDK render the content).
 */
export function hydrate(sw, root = globalThis.document, options = {}) {
  const shown = new WeakMap();
  let context = options.context;
  const slots = (live) => {
    const all = [...root.querySelectorAll(SLOT)];
    return live ? all.filter((el) => el.hasAttribute('data-slotwise-live')) : all;
  };
  const paint = (el, d, adopted) => {
    shown.set(el, d);
    if (!adopted && (d.content !== null || options.render)) {
      try {
        if (!options.render || options.render(el, d) === false) if (d.content) renderContent(el, d);
      } catch (e) {
        queueMicrotask(() => { throw e; }); // the site's renderer failed: report, keep going
      }
    }
    el.setAttribute('data-slotwise-state', d.content ? 'decided' : 'default');
    el.setAttribute('data-slotwise-reason', d.reason);
    if (d.decisionId) el.setAttribute('data-slotwise-decision', d.decisionId);
  };
  const run = (els, adopted = {}) => {
    const names = [...new Set(els.map((el) => el.getAttribute('data-slotwise-slot')))].filter((n) => !adopted[n]);
    const decisions = names.length
      ? sw.decide({ slots: names, context: { path: globalThis.location?.pathname, ...context } })
      : {};
    for (const el of els) {
      const name = el.getAttribute('data-slotwise-slot');
      paint(el, adopted[name] ?? decisions[name], !!adopted[name]);
    }
    return { ...adopted, ...decisions };
  };
  let adopted = null;
  if (!sw._handedOff) {
    const handed = readHandoff(root.ownerDocument ?? root, sw.bundleId);
    if (handed) adopted = sw._adopt(handed.names, handed.flat, handed.sent);
    sw._handedOff = true;
  }
  const onClick = (event) => {
    const el = event.target.closest?.(SLOT);
    const d = el && shown.get(el);
    if (d) sw.click(d, event.target.closest('[data-slotwise-item]')?.getAttribute('data-slotwise-item') ?? undefined);
  };
  let queued = false;
  const onTrack = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      const live = slots(true);
      if (live.length) Object.assign(hydration.decisions, run(live));
    });
  };
  root.addEventListener?.('click', onClick);
  const untrack = sw._on('track', onTrack);
  const unprefs = sw._on('prefs', () => hydration.refresh());
  const hydration = {
    decisions: run(slots(), adopted ?? {}),
    /** Re-decides every slot under the root (e.g. after a client-side navigation). */
    refresh(newContext) {
      if (newContext !== undefined) context = newContext;
      return (hydration.decisions = run(slots()));
    },
    /** Stops live updates and click signals. */
    stop() {
      untrack();
      unprefs();
      root.removeEventListener?.('click', onClick);
    },
  };
  return hydration;
}
