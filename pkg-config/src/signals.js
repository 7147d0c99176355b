// slotwise/signals — the outbound signal queue: SWG1 encoding, batching, delivery.
//
// Standalone (no wasm): the runtime hands it impressions, clicks, conversions and
// tracked events; it batches them into SWG1 (the same bytes as src/signals.rs, proven
// by tests/vectors/signals.json), and delivers them with fetch keepalive, or
// navigator.sendBeacon when the page is going away, retrying with backoff.
//
// Consent: nothing is sent without `measurement`. Until the visitor decides, signals
// wait in memory with their original timestamps; a grant sends them, a denial discards
// them. The queue is persisted (localStorage) only with `personalization`; otherwise it
// lives in memory, and revoking personalization deletes what was persisted. A
// pseudonymous subject is attached only with personalization.

/** Signal kinds by name, with their wire numbers. */
export const KINDS = Object.freeze({ view: 0, impression: 1, click: 2, add_to_cart: 3, purchase: 4, conversion: 5, dismiss: 6 });
/** Channels by name, with their wire numbers. */
export const CHANNELS = Object.freeze({ web: 0, app: 1, email: 2, push: 3, sms: 4, store: 5 });
/** Consent bits, as in src/consent.rs. */
export const CONSENT = Object.freeze({ necessary: 1, personalization: 2, measurement: 4, advertising: 8 });
/** The media type of an SWG1 batch. */
export const MEDIA_TYPE = 'application/vnd.slotwise.signals';
/** Most signals in one batch, and most bytes (the decoder's limits). */
export const MAX_SIGNALS = 1000;
export const MAX_BYTES = 65536;

const VALUE_KINDS = new Set(['purchase', 'conversion', 'add_to_cart']);
const HEX16 = /^[0-9a-f]{16}$/;

/** Error with a stable `code`, like the runtime's SlotwiseError. */
export class SignalError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SlotwiseError';
    this.code = code;
  }
}

function putVarint(out, v) {
  // Numbers up to 2^53: arithmetic, not 32-bit bit operations.
  if (!Number.isSafeInteger(v) || v < 0) throw new SignalError('signals.invalid', 'a field is not a non-negative safe integer');
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function putHex64(out, hex, what) {
  if (typeof hex !== 'string' || !HEX16.test(hex)) throw new SignalError('signals.invalid', `${what} must be 16 lower-case hex digits`);
  for (let i = 14; i >= 0; i -= 2) out.push(parseInt(hex.slice(i, i + 2), 16));
}

function checkInt(v, max, what) {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new SignalError('signals.invalid', `${what} out of range`);
  return v;
}

/** Encodes signals (JS shape: see SignalQueue.push) into an SWG1 batch. */
export function encodeBatch(signals) {
  if (signals.length > MAX_SIGNALS) throw new SignalError('signals.too_large', 'too many signals');
  const out = [0x53, 0x57, 0x47, 0x31, 1];
  let base = Infinity;
  for (const s of signals) base = Math.min(base, s.time);
  if (!signals.length) base = 0;
  putVarint(out, signals.length);
  putVarint(out, base);
  // The subject table: each distinct subject once, in order of first use.
  const subjects = [];
  for (const s of signals) if (s.subject != null && !subjects.includes(s.subject)) subjects.push(s.subject);
  putVarint(out, subjects.length);
  for (const x of subjects) putHex64(out, x, 'subject');
  for (const s of signals) {
    const kind = KINDS[s.kind];
    const channel = CHANNELS[s.channel ?? 'web'];
    if (kind === undefined) throw new SignalError('signals.invalid', 'unknown signal kind');
    if (channel === undefined) throw new SignalError('signals.invalid', 'unknown channel');
    const consent = checkInt(s.consent ?? 0, 15, 'consent');
    const hasValue = s.value !== undefined && s.value !== null;
    const hasSubject = s.subject !== undefined && s.subject !== null;
    const hasDecision = s.decisionId !== undefined && s.decisionId !== null;
    if (hasSubject && !(consent & CONSENT.personalization)) throw new SignalError('signals.invalid', 'a subject needs personalization consent');
    if (hasValue && !VALUE_KINDS.has(s.kind)) throw new SignalError('signals.invalid', 'only purchases, conversions and carts carry a value');
    out.push(kind | (channel << 4));
    out.push(consent | (hasDecision ? 0x10 : 0) | (hasValue ? 0x20 : 0) | (hasSubject ? 0x40 : 0) | (s.holdout ? 0x80 : 0));
    putHex64(out, s.eventId, 'eventId');
    if (hasDecision) putHex64(out, s.decisionId, 'decisionId');
    putVarint(out, checkInt(s.slot ?? 0, 0xffff, 'slot'));
    putVarint(out, checkInt(s.item ?? 0, 0xffffffff, 'item'));
    out.push(checkInt(s.variant ?? 0, 255, 'variant'));
    putVarint(out, s.time - base);
    if (hasValue) putVarint(out, s.value);
    if (hasSubject) putVarint(out, subjects.indexOf(s.subject));
  }
  if (out.length > MAX_BYTES) throw new SignalError('signals.too_large', 'batch over MAX_BYTES');
  return new Uint8Array(out);
}

function randomHex64() {
  const b = new Uint8Array(8);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * A bounded, consent-gated queue of signals with batched delivery.
 *
 * Options (all optional but `endpoint`): `endpoint` (URL of POST /v1/signals),
 * `consent` ({ personalization, measurement }: true, false, or undefined for "not
 * decided yet"), `storage` (a localStorage-like object), `storageKey`, `now` (ms
 * clock), `fetch`, `sendBeacon`, `setTimeout` / `clearTimeout`, `random` (16 hex
 * digits), `channel`, `subject` (16 hex digits, sent only with personalization),
 * `maxBatch` (50), `flushAfterMs` (5000), `maxQueue` (500), `maxPending` (200),
 * `retryBaseMs` (1000), `retryMaxMs` (60000).
 */
export class SignalQueue {
  constructor(opts) {
    if (!opts || !opts.endpoint) throw new SignalError('signals.config', 'an endpoint is required');
    const g = globalThis;
    this.endpoint = opts.endpoint;
    this.storage = opts.storage ?? null;
    this.storageKey = opts.storageKey ?? 'slotwise.signals';
    this.now = opts.now ?? (() => Date.now());
    this.fetch = opts.fetch ?? (g.fetch ? g.fetch.bind(g) : null);
    this.sendBeacon = opts.sendBeacon ?? (g.navigator?.sendBeacon ? g.navigator.sendBeacon.bind(g.navigator) : null);
    this.setTimeout = opts.setTimeout ?? g.setTimeout.bind(g);
    this.clearTimeout = opts.clearTimeout ?? g.clearTimeout.bind(g);
    this.random = opts.random ?? randomHex64;
    this.channel = opts.channel ?? 'web';
    this.subject = opts.subject ?? null;
    this.maxBatch = Math.min(opts.maxBatch ?? 50, MAX_SIGNALS);
    this.flushAfterMs = opts.flushAfterMs ?? 5000;
    this.maxQueue = opts.maxQueue ?? 500;
    this.maxPending = opts.maxPending ?? 200;
    this.retryBaseMs = opts.retryBaseMs ?? 1000;
    this.retryMaxMs = opts.retryMaxMs ?? 60000;
    const c = opts.consent ?? {};
    this.consent = { personalization: c.personalization, measurement: c.measurement };
    this.queue = []; // consented, ready to send
    this.pending = []; // waiting for a measurement decision (memory only)
    this.timer = null;
    this.failures = 0;
    this.sending = false;
    this.stats = { sent: 0, dropped: 0, retries: 0 };
    // The queue a previous page persisted (only ever written with personalization).
    if (this.consent.personalization === true) this.#load();
  }

  #bits() {
    return CONSENT.necessary | (this.consent.personalization ? CONSENT.personalization : 0) | (this.consent.measurement ? CONSENT.measurement : 0);
  }

  #stamp(s) {
    // Consent bits in force when the signal is queued for sending; the subject only
    // with personalization. Nothing else is copied: the wire type has no other field.
    const out = {
      kind: s.kind, eventId: s.eventId, slot: s.slot ?? 0, item: s.item ?? 0, variant: s.variant ?? 0,
      time: s.time, consent: this.#bits(), channel: s.channel ?? this.channel, holdout: !!s.holdout,
    };
    if (s.decisionId != null) out.decisionId = s.decisionId;
    if (s.value != null) out.value = s.value;
    if (this.consent.personalization && this.subject) out.subject = this.subject;
    return out;
  }

  /** Queues one signal: { kind, decisionId?, slot?, item?, variant?, holdout?, value?, channel?, time?, eventId? }. */
  push(signal) {
    if (KINDS[signal.kind] === undefined) throw new SignalError('signals.invalid', 'unknown signal kind');
    const s = { ...signal, eventId: signal.eventId ?? this.random(), time: signal.time ?? Math.floor(this.now() / 1000) };
    if (this.consent.measurement === false) {
      this.stats.dropped++;
      return;
    }
    if (this.consent.measurement !== true) {
      this.pending.push(s);
      if (this.pending.length > this.maxPending) {
        this.pending.shift();
        this.stats.dropped++;
      }
      return;
    }
    this.#enqueue([this.#stamp(s)]);
    if (this.queue.length >= this.maxBatch) this.flush();
  }

  #enqueue(signals) {
    this.queue.push(...signals);
    while (this.queue.length > this.maxQueue) {
      this.queue.shift();
      this.stats.dropped++;
    }
    this.#save();
    this.#schedule(this.flushAfterMs);
  }

  /** Updates consent: { personalization?, measurement? } (true, false or undefined). */
  setConsent(c) {
    const before = { ...this.consent };
    if ('personalization' in c) this.consent.personalization = c.personalization;
    if ('measurement' in c) this.consent.measurement = c.measurement;
    if (this.consent.personalization !== true && before.personalization === true) {
      this.storage?.removeItem?.(this.storageKey);
      if (this.subject) for (const s of this.queue) delete s.subject;
    }
    if (this.consent.personalization === true && before.personalization !== true) this.#save();
    if (this.consent.measurement === false) {
      this.stats.dropped += this.pending.length + this.queue.length;
      this.pending = [];
      this.queue = [];
      this.storage?.removeItem?.(this.storageKey);
      this.#cancel();
    } else if (this.consent.measurement === true && this.pending.length) {
      const waiting = this.pending;
      this.pending = [];
      this.#enqueue(waiting.map((s) => this.#stamp(s)));
      this.flush();
    }
  }

  #save() {
    if (!this.storage || this.consent.personalization !== true) return;
    try {
      if (this.queue.length) this.storage.setItem(this.storageKey, JSON.stringify(this.queue));
      else this.storage.removeItem(this.storageKey);
    } catch {
      // Storage full or unavailable: the queue stays in memory.
    }
  }

  #load() {
    try {
      const saved = JSON.parse(this.storage?.getItem(this.storageKey) ?? '[]');
      if (Array.isArray(saved)) {
        const ok = saved.filter((s) => s && KINDS[s.kind] !== undefined && typeof s.eventId === 'string');
        this.queue = ok.concat(this.queue).slice(-this.maxQueue);
        if (this.queue.length) this.#schedule(0);
      }
    } catch {
      this.storage?.removeItem?.(this.storageKey);
    }
  }

  #schedule(ms) {
    if (this.timer !== null || this.consent.measurement !== true) return;
    this.timer = this.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, ms);
  }

  #cancel() {
    if (this.timer !== null) this.clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Sends what is queued, a batch at a time. `{ beacon: true }` (page going away) uses
   * sendBeacon and falls back to fetch keepalive. Resolves to the number of signals
   * the server acknowledged.
   */
  async flush(opts = {}) {
    if (this.consent.measurement !== true || !this.queue.length) return 0;
    if (this.sending && !opts.beacon) return 0;
    this.#cancel();
    this.sending = true;
    let acked = 0;
    try {
      while (this.queue.length && this.consent.measurement === true) {
        const batch = this.queue.slice(0, this.maxBatch);
        let body;
        try {
          body = encodeBatch(batch);
        } catch {
          // A signal that cannot be encoded is dropped, never retried forever.
          this.queue.splice(0, batch.length);
          this.stats.dropped += batch.length;
          continue;
        }
        const outcome = await this.#send(body, !!opts.beacon);
        if (outcome === 'retry') {
          this.failures++;
          this.stats.retries++;
          const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (this.failures - 1));
          this.#schedule(delay * (0.5 + Math.random() / 2));
          break;
        }
        this.failures = 0;
        this.queue.splice(0, batch.length);
        if (outcome === 'sent') {
          acked += batch.length;
          this.stats.sent += batch.length;
        } else {
          this.stats.dropped += batch.length;
        }
        this.#save();
      }
    } finally {
      this.sending = false;
    }
    return acked;
  }

  async #send(body, beacon) {
    if (beacon && this.sendBeacon) {
      try {
        const blob = typeof Blob === 'function' ? new Blob([body], { type: MEDIA_TYPE }) : body;
        if (this.sendBeacon(this.endpoint, blob)) return 'sent';
      } catch {
        // fall through to fetch keepalive
      }
    }
    if (!this.fetch) return 'retry';
    try {
      const r = await this.fetch(this.endpoint, {
        method: 'POST', body, keepalive: true, credentials: 'same-origin',
        headers: { 'content-type': MEDIA_TYPE },
      });
      if (r.ok) return 'sent';
      // The server refused the batch for good (4xx other than timeouts / rate limits).
      if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) return 'refused';
      return 'retry';
    } catch {
      return 'retry';
    }
  }

  /**
   * Flushes on pagehide and when the page becomes hidden, and sends what is left
   * when a page comes back from the back/forward cache (pageshow, persisted);
   * returns a detach function.
   */
  attach(win = globalThis.window, doc = globalThis.document) {
    const onHide = () => { this.flush({ beacon: true }); };
    const onVisibility = () => { if (doc?.visibilityState === 'hidden') onHide(); };
    const onShow = (e) => { if (e.persisted && this.queue.length) this.flush(); };
    win?.addEventListener?.('pagehide', onHide);
    win?.addEventListener?.('pageshow', onShow);
    doc?.addEventListener?.('visibilitychange', onVisibility);
    return () => {
      win?.removeEventListener?.('pageshow', onShow);
      win?.removeEventListener?.('pagehide', onHide);
      doc?.removeEventListener?.('visibilitychange', onVisibility);
    };
  }

  /** Signals waiting: { queued, pending }. */
  get size() {
    return { queued: this.queue.length, pending: this.pending.length };
  }
}
