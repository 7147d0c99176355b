// The debug panel: what Slotwise knows and does on this page — the bundle, consent,
// the visitor's session (as stored on the device), the profile snippet's claims, the
// latest decisions and the signals waiting to be sent. Refreshes while open.
import { CATEGORIES } from './catalogue.js';

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

/** Reads the claims of an SWP1 snippet token (postcard) for display; unverified. */
export function snippetClaims(token) {
  const s = atob(token.replace(/-/g, '+').replace(/_/g, '/'));
  const b = Uint8Array.from(s, (c) => c.charCodeAt(0));
  let at = 5; // "SWP1" + version
  const varint = () => {
    let v = 0;
    for (let f = 1; ; f *= 128) {
      const x = b[at++];
      v += (x & 127) * f;
      if (x < 128) return v;
    }
  };
  const str = () => {
    const n = varint();
    const t = new TextDecoder().decode(b.subarray(at, at + n));
    at += n;
    return t;
  };
  const seq = (one) => Array.from({ length: varint() }, one);
  const keyId = str();
  const issuedAt = varint();
  varint(); // not before
  const expiresAt = varint();
  const audience = str();
  const subject = b[at++] ? str() : null;
  const consent = b[at++];
  varint(); // vocabulary fingerprint
  const segments = seq(varint);
  const affinities = seq(() => ({ category: varint(), weight: b[at++] }));
  seq(() => [varint(), b[at++]]); // propensities
  seq(varint); // purchases
  seq(() => [varint(), varint(), varint(), varint()]); // counters: scope kind and index, period, count
  seq(() => [varint(), b[at++]]); // experiment assignments
  const muted = seq(varint); // categories muted in the preference centre
  return { keyId, issuedAt, expiresAt, audience, subject, consent, segments, affinities, muted };
}

export function debugPanel(sw, panel, toggle) {
  const events = [];
  let lastDecisions = {};
  let context = {};
  let snippet = null;
  let timer = null;

  sw.onDecision((d) => {
    lastDecisions = { ...lastDecisions, ...d };
    if (!panel.hidden) update();
  });

  function section(title, ...rows) {
    const s = el('section');
    s.append(el('h3', null, title), ...rows);
    return s;
  }
  function kv(pairs) {
    const dl = el('dl');
    for (const [k, v] of pairs) dl.append(el('dt', null, k), el('dd', null, String(v)));
    return dl;
  }

  function update() {
    if (panel.hidden) return;
    const c = sw.consent;
    let stored = null;
    try {
      stored = localStorage.getItem('slotwise.session');
    } catch {
      stored = null;
    }
    const q = sw.signalQueue;
    const decisionRows = el('table');
    decisionRows.append(...Object.values(lastDecisions).map((d) => {
      const tr = el('tr');
      tr.append(el('td', 'mono', d.slot), el('td', null, d.reason), el('td', 'mono', d.items.slice(0, 4).join(' ') || '—'),
        el('td', null, d.variant ? `${d.variant.experiment}:${d.variant.variation}` : ''));
      return tr;
    }));
    const signalList = el('ul', 'mono');
    if (q) {
      for (const s of [...q.pending.map((x) => ({ ...x, waiting: true })), ...q.queue].slice(-10)) {
        signalList.append(el('li', null, `${s.waiting ? '⏸ ' : ''}${s.kind} slot ${s.slot ?? 0} item ${s.item ?? 0}${s.value ? ` €${s.value / 100}` : ''}`));
      }
    }
    let claims = null;
    try {
      claims = snippet?.token ? snippetClaims(snippet.token) : null;
    } catch {
      claims = null;
    }
    panel.replaceChildren(
      el('h2', null, 'Slotwise debug'),
      section('Bundle', kv([['id', sw.bundleId ?? '—'], ['site', sw.site ?? '—'], ['error', sw.error?.code ?? 'none']])),
      section('Consent', kv(['personalization', 'measurement', 'advertising'].map((p) => [p, c[p] ? 'granted' : 'not granted']))),
      section('Session', kv([
        ['visitor id', sw.visitorId ?? '—'],
        ['stored on device', stored ? `${Math.ceil((stored.length * 3) / 4)} bytes (SWS1)` : 'nothing (memory only)'],
        ['events this visit', events.length],
      ]), el('p', 'mono small', events.slice(-6).map((e) => `${e.type} ${e.item ?? e.category ?? ''}`).join(' · ') || 'no events yet')),
      section('Snippet', snippet
        ? kv([
          ['status', snippet.profile?.ok ? 'verified' : `ignored: ${snippet.profile?.reason}`],
          ...(claims ? [
            ['key', claims.keyId], ['audience', claims.audience], ['subject', claims.subject ?? '—'],
            ['expires', new Date(claims.expiresAt * 1000).toLocaleTimeString()],
            ['segments', claims.segments.join(', ') || '—'],
            ['affinities', claims.affinities.map((a) => `${a.category}:${(a.weight / 255).toFixed(2)}`).join(', ') || '—'],
            ['muted', claims.muted.join(', ') || '—'],
          ] : []),
        ])
        : el('p', 'small', 'No snippet (needs personalization consent).')),
      section('Context', el('p', 'mono small', JSON.stringify(context))),
      section('Decisions', decisionRows),
      section(`Signals ${q ? `(${q.size.queued} queued, ${q.size.pending} waiting for consent, ${q.stats.sent} sent, ${q.stats.dropped} dropped)` : '(off)'}`, signalList),
      el('p', 'small', `Categories: ${CATEGORIES.map((x) => x.id).join(', ')}. Try ?weather=rain for a context rule.`),
    );
  }

  toggle.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    toggle.setAttribute('aria-expanded', String(!panel.hidden));
    clearInterval(timer);
    if (!panel.hidden) {
      update();
      timer = setInterval(update, 1000);
    }
  });

  return {
    update,
    event(e) { events.push(e); update(); },
    context(c) { context = c; update(); },
    snippet(token, profile) { snippet = { token, profile }; update(); },
  };
}
