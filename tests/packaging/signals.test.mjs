// slotwise/signals as users import it: the SWG1 encoder against the shared vectors
// (tests/vectors/signals.json, also replayed by the Rust decoder), and the queue's
// batching, delivery, retry and consent rules with injected clock, timers and fetch.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SignalQueue, encodeBatch, MEDIA_TYPE, CONSENT } from 'slotwise/signals';

function findVectors() {
  const starts = [process.env.SLOTWISE_ROOT, path.dirname(new URL(import.meta.url).pathname)].filter(Boolean);
  for (let dir of starts) {
    for (let i = 0; i < 8; i++) {
      const f = path.join(dir, 'tests', 'vectors', 'signals.json');
      if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, 'utf8'));
      dir = path.dirname(dir);
    }
  }
  throw new Error('tests/vectors/signals.json not found (set SLOTWISE_ROOT)');
}

const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');

test('signals: the JS encoder writes the shared vectors byte for byte', () => {
  const v = findVectors();
  assert.ok(v.valid.length >= 4);
  for (const c of v.valid) assert.equal(hex(encodeBatch(c.signals)), c.hex, c.name);
});

test('signals: minimisation rules are enforced by the encoder', () => {
  const base = { kind: 'click', eventId: '0000000000000001', time: 1 };
  assert.throws(() => encodeBatch([{ ...base, consent: 5, subject: '00000000000000aa' }]), { code: 'signals.invalid' });
  assert.throws(() => encodeBatch([{ ...base, consent: 5, value: 3 }]), { code: 'signals.invalid' });
  assert.throws(() => encodeBatch([{ ...base, kind: 'pageview-with-url' }]), { code: 'signals.invalid' });
  assert.throws(() => encodeBatch([{ ...base, eventId: 'not hex' }]), { code: 'signals.invalid' });
});

/** A fake environment: manual clock and timers, a recording fetch / beacon, a storage. */
function env({ status = 200, beacon = true } = {}) {
  const e = {
    t: 1_800_000_000_000, timers: [], posts: [], beacons: [], status, store: new Map(),
  };
  e.opts = {
    endpoint: 'http://127.0.0.1:1/v1/signals',
    now: () => e.t,
    setTimeout: (f, ms) => { const id = { f, at: e.t + ms }; e.timers.push(id); return id; },
    clearTimeout: (id) => { e.timers = e.timers.filter((x) => x !== id); },
    fetch: async (url, init) => {
      e.posts.push(init);
      if (e.status === 'network') throw new TypeError('network down');
      return { ok: e.status >= 200 && e.status < 300, status: e.status };
    },
    sendBeacon: beacon ? (url, blob) => { e.beacons.push(blob); return true; } : undefined,
    storage: {
      getItem: (k) => e.store.get(k) ?? null,
      setItem: (k, v) => e.store.set(k, v),
      removeItem: (k) => e.store.delete(k),
    },
    random: (() => { let n = 0; return () => (++n).toString(16).padStart(16, '0'); })(),
    subject: '00000000000000ab',
  };
  e.advance = async (ms) => {
    e.t += ms;
    const due = e.timers.filter((x) => x.at <= e.t);
    e.timers = e.timers.filter((x) => x.at > e.t);
    for (const d of due) d.f();
    await new Promise((r) => setImmediate(r));
  };
  return e;
}

const decodeCount = (body) => body[5]; // batches here are < 128 signals

test('signals: batches on size and on time, with the right media type and keepalive', async () => {
  const e = env();
  const q = new SignalQueue({ ...e.opts, consent: { measurement: true }, maxBatch: 3, flushAfterMs: 1000 });
  q.push({ kind: 'impression', decisionId: '00000000000000d1', slot: 1, item: 2 });
  q.push({ kind: 'click', decisionId: '00000000000000d1', slot: 1, item: 2 });
  assert.equal(e.posts.length, 0);
  q.push({ kind: 'view', item: 9 }); // size threshold
  await e.advance(0);
  assert.equal(e.posts.length, 1);
  assert.equal(e.posts[0].headers['content-type'], MEDIA_TYPE);
  assert.equal(e.posts[0].keepalive, true);
  assert.equal(decodeCount(e.posts[0].body), 3);
  q.push({ kind: 'view', item: 1 });
  await e.advance(999);
  assert.equal(e.posts.length, 1);
  await e.advance(1); // time threshold
  assert.equal(e.posts.length, 2);
  assert.equal(q.stats.sent, 4);
});

test('signals: no measurement consent: buffered with original timestamps, sent on grant', async () => {
  const e = env();
  const q = new SignalQueue({ ...e.opts, consent: {} });
  const t0 = Math.floor(e.t / 1000);
  q.push({ kind: 'impression', decisionId: '00000000000000d1' });
  await e.advance(60_000);
  q.push({ kind: 'click', decisionId: '00000000000000d1' });
  assert.deepEqual(q.size, { queued: 0, pending: 2 });
  assert.equal(e.posts.length + e.beacons.length, 0);
  assert.equal(e.store.size, 0, 'nothing persisted without consent');
  q.setConsent({ measurement: true });
  await e.advance(0);
  assert.equal(e.posts.length, 1);
  const [a, b] = [q.stats.sent, e.posts[0].body];
  assert.equal(a, 2);
  // The base time of the batch is the first signal's original time.
  const expected = encodeBatch([
    { kind: 'impression', decisionId: '00000000000000d1', eventId: '0000000000000001', time: t0, consent: CONSENT.necessary | CONSENT.measurement },
    { kind: 'click', decisionId: '00000000000000d1', eventId: '0000000000000002', time: t0 + 60, consent: CONSENT.necessary | CONSENT.measurement },
  ]);
  assert.equal(hex(b), hex(expected));
});

test('signals: a denial discards what was buffered and what follows', async () => {
  const e = env();
  const q = new SignalQueue({ ...e.opts, consent: {} });
  q.push({ kind: 'view', item: 1 });
  q.setConsent({ measurement: false });
  q.push({ kind: 'view', item: 2 });
  await e.advance(10_000);
  assert.deepEqual(q.size, { queued: 0, pending: 0 });
  assert.equal(e.posts.length, 0);
  assert.equal(q.stats.dropped, 2);
});

test('signals: retries with backoff, then delivers; 4xx is dropped, not retried', async () => {
  const e = env({ status: 503 });
  const q = new SignalQueue({ ...e.opts, consent: { measurement: true }, retryBaseMs: 1000, flushAfterMs: 10 });
  q.push({ kind: 'view', item: 1 });
  await e.advance(10);
  assert.equal(e.posts.length, 1);
  await e.advance(400);
  assert.equal(e.posts.length, 1, 'waits at least half the base delay');
  e.status = 'network';
  await e.advance(700);
  assert.equal(e.posts.length, 2);
  e.status = 200;
  await e.advance(2100);
  assert.equal(e.posts.length, 3);
  assert.equal(q.stats.sent, 1);
  assert.equal(q.stats.retries, 2);
  e.status = 400;
  q.push({ kind: 'view', item: 2 });
  await e.advance(10);
  assert.equal(q.size.queued, 0);
  assert.equal(q.stats.dropped, 1);
});

test('signals: persisted only with personalization; revoking deletes it; subject only then', async () => {
  const e = env({ status: 503 });
  const q = new SignalQueue({ ...e.opts, consent: { measurement: true, personalization: true }, flushAfterMs: 60_000 });
  q.push({ kind: 'view', item: 3 });
  const saved = JSON.parse(e.store.get('slotwise.signals'));
  assert.equal(saved.length, 1);
  assert.equal(saved[0].subject, '00000000000000ab');
  // A new page: the persisted queue is picked up and sent.
  e.status = 200;
  const q2 = new SignalQueue({ ...e.opts, consent: { measurement: true, personalization: true } });
  await e.advance(0);
  assert.equal(q2.stats.sent, 1);
  // Without personalization: memory only, no subject.
  const q3 = new SignalQueue({ ...e.opts, consent: { measurement: true, personalization: false }, flushAfterMs: 60_000 });
  q3.push({ kind: 'view', item: 4 });
  assert.equal(e.store.has('slotwise.signals'), false);
  assert.equal(q3.queue[0].subject, undefined);
  q.setConsent({ personalization: false });
  assert.equal(e.store.has('slotwise.signals'), false);
});

test('signals: bounded queue, and pagehide / hidden flush through sendBeacon', async () => {
  const e = env();
  const q = new SignalQueue({ ...e.opts, consent: { measurement: true }, maxQueue: 5, maxBatch: 100, flushAfterMs: 60_000 });
  for (let i = 0; i < 8; i++) q.push({ kind: 'view', item: i });
  assert.equal(q.size.queued, 5);
  assert.equal(q.stats.dropped, 3);
  const win = new EventTarget();
  const doc = new EventTarget();
  doc.visibilityState = 'visible';
  const detach = q.attach(win, doc);
  doc.visibilityState = 'hidden';
  doc.dispatchEvent(new Event('visibilitychange'));
  await e.advance(0);
  assert.equal(e.beacons.length, 1);
  assert.equal(e.beacons[0].type, MEDIA_TYPE);
  assert.equal(q.size.queued, 0);
  q.push({ kind: 'view', item: 1 });
  win.dispatchEvent(new Event('pagehide'));
  await e.advance(0);
  assert.equal(e.beacons.length, 2);
  detach();
});
