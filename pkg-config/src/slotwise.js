// The package's API over a wasm engine. Each entry file (browser.js, node.js,
// workerd.js) passes in its module's bindings and how its runtime instantiates it.
import { SignalQueue } from './signals.js';
import { hydrate } from './dom.js';

/** An error with a stable machine `code` (e.g. `bundle.truncated`). */
export class SlotwiseError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'SlotwiseError';
    this.code = code;
  }
}

const HEX = Array.from({ length: 256 }, (_, b) => (b + 0x100).toString(16).slice(1));
const hex8 = (n) => HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255];

// The host's crypto is asked for 512 seeds at a time (one getRandomValues call costs
// as much as ~2 µs, more than a whole decision): each seed is still used once.
const pool = new Uint32Array(1024);
let pooled = 0;
/** 64 random bits from the host's crypto, as two u32 (never at module load). */
export function seed() {
  if (pooled === 0) {
    crypto.getRandomValues(pool);
    pooled = pool.length;
  }
  pooled -= 2;
  return [pool[pooled], pool[pooled + 1]];
}

// Freed visitors an edge/server engine keeps to reuse (reset) instead of allocating.
const SPARE_VISITORS = 8;

// Bound of the id → index caches (ids the bundle does not know are cached too).
const LOOKUP_CACHE = 4096;

// Unix seconds from the host's clock, read once per task: every call in one
// synchronous run of JavaScript (a request, a burst of track calls) gets the time
// of the first, and a microtask clears it. A page tracks many events at once, and a
// clock read costs 0.15 to 0.5 µs on some VMs (as much as a whole track call); the
// session keeps minutes and decisions use seconds.
let clock = -1;
const nowSecs = () => {
  if (clock < 0) {
    clock = Date.now() / 1000;
    queueMicrotask(() => (clock = -1));
  }
  return clock;
};

// Event types → the core's event kinds (0..6; 7 = a site-defined event). A Map, so a
// site's own type named like an Object.prototype key ('constructor') stays custom.
const KINDS = new Map(Object.entries({
  view: 0, product_view: 0, page_view: 0, category_view: 0,
  search: 1,
  add_to_cart: 2, addtocart: 2,
  remove: 3, remove_from_cart: 3,
  purchase: 4, order: 4,
  impression: 5,
  click: 6,
}));

// Consent purposes ↔ the core's consent bits.
const BITS = { personalization: 2, measurement: 4, advertising: 8 };
function consentBits(consent = {}) {
  return 1 | (consent.personalization === true ? BITS.personalization : 0) |
    (consent.measurement === true ? BITS.measurement : 0) | (consent.advertising === true ? BITS.advertising : 0);
}
// Two bits per answer for the core's resolver: 0 unset, 1 denied, 2 granted.
const tri = (v) => (v === true || v === 'granted' ? 2 : v === false || v === 'denied' ? 1 : 0);
const MODE_KEYS = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization', 'functionality_storage', 'personalization_storage'];
const browserGpc = () => {
  try {
    return globalThis.navigator?.globalPrivacyControl === true;
  } catch {
    return false;
  }
};
function consentObject(bits) {
  return { necessary: true, personalization: !!(bits & 2), measurement: !!(bits & 4), advertising: !!(bits & 8) };
}

// ---- page context → postcard bytes of the core's `rules::Value` ----
// Tags: 0 null, 1 bool, 2 f64, 3 string, 4 array, 5 object (key/value pairs).
const utf8 = new TextEncoder();
class Writer {
  constructor() { this.buf = new Uint8Array(512); this.len = 0; this.view = new DataView(this.buf.buffer); }
  room(n) {
    if (this.len + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }
  byte(b) { this.room(1); this.buf[this.len++] = b; }
  varint(n) { this.room(5); while (n > 0x7f) { this.buf[this.len++] = (n & 0x7f) | 0x80; n >>>= 7; } this.buf[this.len++] = n; }
  f64(x) { this.room(8); this.view.setFloat64(this.len, x, true); this.len += 8; }
  str(s) {
    // ASCII in one pass; from the first other character, TextEncoder for the whole.
    const start = this.len, n = s.length;
    this.varint(n); this.room(n);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        const bytes = utf8.encode(s);
        this.len = start; this.varint(bytes.length); this.room(bytes.length);
        this.buf.set(bytes, this.len); this.len += bytes.length;
        return;
      }
      buf[at++] = c;
    }
    this.len = at;
  }
  value(v, depth) {
    if (depth > 64) return this.byte(0);
    switch (typeof v) {
      case 'boolean': this.byte(1); return this.byte(v ? 1 : 0);
      case 'number': this.byte(2); return this.f64(v);
      case 'string': this.byte(3); return this.str(v);
      case 'object':
        if (v === null) return this.byte(0);
        if (Array.isArray(v)) {
          this.byte(4); this.varint(v.length);
          for (const x of v) this.value(x, depth + 1);
          return;
        }
        {
          const keys = Object.keys(v).filter((k) => v[k] !== undefined && typeof v[k] !== 'function');
          this.byte(5); this.varint(keys.length);
          for (const k of keys) { this.str(k); this.value(v[k], depth + 1); }
        }
        return;
      default: return this.byte(0);
    }
  }
}
const writer = new Writer();
// Own properties only (not a prototype's: `constructor`, `__proto__`). hasOwnProperty
// is inlined by V8 where propertyIsEnumerable is a runtime call (~35 ns per key).
const own = Object.prototype.hasOwnProperty;
/**
 * @internal The page context as the core reads it (src/page_context.rs). With `keys`
 * (the engine's `contextKeys`: what its conditions read) and a plain object: byte 6
 * then an array of the value of each key in that order (null when the object has no
 * own attribute of that name), no key strings; a plain object's other attributes are
 * left out, since no condition can see them. Otherwise a postcard `Value`.
 */
export function encodeContext(context, keys) {
  writer.len = 0;
  writeContext(context, keys);
  return writer.buf.subarray(0, writer.len);
}

/** Appends the page context in `encodeContext`'s form to `writer` (nothing for none). */
function writeContext(context, keys) {
  if (context == null || typeof context !== 'object') return;
  if (keys && !Array.isArray(context)) {
    writer.byte(6);
    writer.byte(4);
    writer.varint(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i], v = context[k];
      if (v !== undefined && typeof v !== 'function' && own.call(context, k)) writer.value(v, 1);
      else writer.byte(0);
    }
  } else {
    writer.value(context, 0);
  }
}

/**
 * The host's WebCrypto Ed25519 over a parsed snippet (`checkSnippet`); resolves to
 * `{ accept(audience, now) }`, which completes the check in the engine with the
 * verdict (undefined: the host cannot verify Ed25519).
 */
async function verifyEd25519(check) {
  let verdict;
  try {
    const algorithm = { name: 'Ed25519' };
    const key = await crypto.subtle.importKey('raw', check.key, algorithm, false, ['verify']);
    verdict = (await crypto.subtle.verify(algorithm, key, check.signature, check.message)) === true;
  } catch {
    verdict = undefined;
  }
  return { accept: (audience, now) => check.accept(verdict, audience, now) };
}

/**
 * @internal A snippet token verified with a wasm instance's `bindings` (its
 * `checkSnippet`) and the host's WebCrypto, then checked for expiry and `audience` at
 * `now` (Unix seconds): resolves to a wasm `Snippet`, or rejects with a
 * `SlotwiseError` naming the reason. `keys`: `{ kid: base64url public key }`.
 */
export async function verifySnippet(bindings, token, keys, audience, now) {
  const check = bindings.checkSnippet(token, Object.keys(keys), Object.values(keys));
  return (await verifyEd25519(check)).accept(String(audience), now);
}

async function bundleBytes(bundle, fetchImpl) {
  if (bundle instanceof Uint8Array) return bundle;
  if (bundle instanceof ArrayBuffer) return new Uint8Array(bundle);
  let response = bundle;
  if (typeof bundle === 'string' || bundle instanceof URL) {
    try {
      response = await (fetchImpl ?? fetch)(bundle);
    } catch (e) {
      throw new SlotwiseError('bundle.fetch_failed', `fetching the bundle failed: ${e}`, { cause: e });
    }
  }
  if (response && typeof response.arrayBuffer === 'function' && 'ok' in response) {
    if (!response.ok) {
      throw new SlotwiseError('bundle.fetch_failed', `fetching the bundle failed: HTTP ${response.status}`);
    }
    return new Uint8Array(await response.arrayBuffer());
  }
  throw new SlotwiseError('options.bundle', 'options.bundle must be a URL, a Uint8Array, an ArrayBuffer or a Response');
}

function asSlotwiseError(e) {
  if (e instanceof SlotwiseError) return e;
  if (e && e.name === 'SlotwiseError') return new SlotwiseError(e.code, e.message, { cause: e });
  return new SlotwiseError('internal', String(e && e.message ? e.message : e), { cause: e });
}

/** Where the session is kept with consent: localStorage in browsers, else nowhere. */
function defaultStorage() {
  try {
    const ls = globalThis.localStorage;
    if (!ls) return null;
    return {
      get: (k) => ls.getItem(k),
      set: (k, v) => ls.setItem(k, v),
      remove: (k) => ls.removeItem(k),
    };
  } catch {
    return null; // storage blocked (privacy mode, sandboxed iframe)
  }
}
const SESSION_KEY = 'slotwise.session';
const MUTED_KEY = 'slotwise.muted';
const b64 = {
  encode: (bytes) => {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  decode: (text) => {
    const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  },
};

/**
 * @internal The Slotwise class over one wasm module: `wasm` is its wasm-bindgen
 * bindings, `init` instantiates it (once, on the first load).
 */
export function createSlotwise(wasm, init) {
  const { Engine, Visitor, reasonCode, checkSnippet, resolveConsent, wasmMemory } = wasm;
  // The module's memory as u32s (remade when it grows), where `Engine.decide` leaves
  // its records, and the page's copy of them.
  let memory = null;
  let words = new Uint32Array(0);
  let flat = new Uint32Array(256);

  /**
   * Every consent source → bits, in DESIGN.md's precedence: explicit booleans
   * (`personalization`, `measurement`, `advertising`), an IAB TCF v2.2 string
   * (`tcf`), Google Consent Mode v2 (`consentMode`: `{ ad_storage: 'granted', ... }`),
   * then the site default (`policy.default`); GPC (`gpc`, default
   * navigator.globalPrivacyControl) turns advertising off. A TC string that does not
   * decode is ignored; its error code is returned as `tcfError`.
   */
  function resolveBits(choice = {}, policy = {}) {
    const explicit = tri(choice.personalization) | (tri(choice.measurement) << 2) | (tri(choice.advertising) << 4);
    let mode = 0;
    const cm = choice.consentMode;
    if (cm != null) for (let i = 0; i < MODE_KEYS.length; i++) mode |= tri(cm[MODE_KEYS[i]]) << (2 * i);
    const gpc = choice.gpc ?? browserGpc();
    const def = consentBits(policy.default);
    const vendor = Number.isInteger(policy.vendorId) ? policy.vendorId : -1;
    const tc = typeof choice.tcf === 'string' ? choice.tcf : '';
    try {
      return { bits: resolveConsent(explicit, tc, mode, gpc, def, vendor), tcfError: null };
    } catch (e) {
      return { bits: resolveConsent(explicit, '', mode, gpc, def, vendor), tcfError: asSlotwiseError(e).code };
    }
  }
  let initPromise = null;
  const ready = () => (initPromise ??= Promise.resolve().then(init));

  let reasonCodes = null;
  function loadReasonTables() {
    if (reasonCodes) return;
    reasonCodes = [];
    for (let n = 0; ; n++) {
      const code = reasonCode(n);
      if (!code) break;
      reasonCodes.push(code);
    }
  }
  // Reasons the JS layer gives when there is no engine to ask.
  const JS_REASONS = {
    no_bundle: 'Personalization is unavailable here; this is the page default.',
    bad_slot_name: 'This slot is not personalized.',
  };

  // Hidden per-decision data `explain` needs: [slot + 1, reason number, because + 1,
  // item indices, variation + 1], kept on the decision as a private field (invisible
  // to JSON, spread, Object.keys and deepEqual), stamped on by a constructor that
  // returns the decision itself. A WeakMap entry cost ~0.9 µs per decision here,
  // mostly in garbage collection, and a non-enumerable symbol property ~0.2 µs
  // (Object.defineProperty); the field costs next to nothing.
  class Stamp { constructor(d) { return d; } }
  class Explained extends Stamp {
    #data;
    constructor(d, data) { super(d); this.#data = data; }
    static get(d) { return d !== null && typeof d === 'object' && #data in d ? d.#data : undefined; }
  }
  const explainData = { set: (d, data) => new Explained(d, data), get: Explained.get };

  /** One visitor's view of the engine: their session, consent and decisions. */
  class SlotwiseVisitor {
    #sw;
    #visitor;
    #storage;
    constructor(sw, visitor, storage) {
      this.#sw = sw;
      this.#visitor = visitor;
      this.#storage = storage;
    }

    /** @internal the wasm visitor (identity only). */
    get _wasm() {
      return this.#visitor;
    }

    /** The id experiments hash (stable while the session is stored). */
    get id() {
      return this.#visitor ? this.#visitor.id : null;
    }

    /** What the visitor allows: `{ necessary, personalization, measurement, advertising }`. */
    get consent() {
      return consentObject(this.#visitor ? this.#visitor.consentBits : 1);
    }

    /**
     * Records an in-session event: `{ type, item?, category?, value? }` — types `view`,
     * `search`, `add_to_cart`, `remove`, `purchase`, `impression`, `click`, or your own.
     */
    track(event = {}) {
      if (!this.#visitor || !event) return;
      const type = String(event.type ?? '');
      const kind = KINDS.get(type) ?? KINDS.get(type.toLowerCase()) ?? 7;
      const value = Number(event.value);
      const cents = Number.isFinite(value) && value > 0 ? Math.min(Math.round(value * 100), 0xffffffff) : 0;
      const sw = this.#sw;
      // No item or category: none (-1), as the lookup of "" gives, without the lookup.
      const item = event.item == null ? -1 : sw._itemIndex(String(event.item));
      const category = event.category == null ? -1 : sw._categoryIndex(String(event.category));
      this.#visitor.trackIndexed(sw._engine, kind, item, category, cents, nowSecs());
      this.#persist();
    }

    /**
     * Verifies a profile snippet (the `SWP1` token the origin issued) with the host's
     * WebCrypto Ed25519 and uses its claims while the visitor allows personalization.
     * `keys`: `{ kid: base64url public key }` (default: `load`'s), `audience`: the
     * site (default: the bundle's). Resolves to `{ ok, reason }`; a bad snippet is
     * ignored (the visitor stays anonymous), never an error.
     */
    async useSnippet(token, options = {}) {
      if (!this.#visitor) return { ok: false, reason: 'no_bundle' };
      const keys = options.keys ?? this.#sw._keys ?? {};
      const audience = options.audience ?? this.#sw._audience;
      try {
        if (typeof token !== 'string' || token === '') throw new SlotwiseError('snippet.malformed', 'no snippet token');
        const snippet = (await verifyEd25519(checkSnippet(token, Object.keys(keys), Object.values(keys))))
          .accept(String(audience), options.now ?? nowSecs());
        this.#visitor.setProfile(snippet);
        snippet.free();
        return { ok: true, reason: null };
      } catch (e) {
        this.#visitor.clearProfile();
        return { ok: false, reason: asSlotwiseError(e).code };
      }
    }

    /**
     * Sets consent from any source (`{ personalization, measurement, advertising,
     * tcf, consentMode, gpc }`, see `Slotwise.load`); revoking deletes what was
     * stored. Returns the resolved consent and any TC string error.
     */
    setConsent(consent = {}) {
      if (!this.#visitor) return { consent: this.consent, tcfError: null };
      const { bits, tcfError } = resolveBits(consent, this.#sw._policy);
      this.#visitor.setConsent(bits);
      this.#persist();
      return { consent: this.consent, tcfError };
    }

    /** Decides every requested slot; never throws. See `Slotwise.decide`. */
    decide(request = {}) {
      return this.#sw._decide(request, this.#visitor);
    }

    /**
     * @internal (edge builds) Decides every slot of the bundle for this visitor and
     * returns a streaming rewriter that fills the personalized ones, or null.
     * `fixedSeed` (`[hi, lo]`): the variant cache's, for the same page per key.
     */
    _pageRewriter(context, fixedSeed) {
      const engine = this.#sw._engine;
      if (!engine || !this.#visitor || typeof engine.rewritePage !== 'function') return null;
      const [hi, lo] = fixedSeed ?? seed();
      // Once per page: the time itself, not nowSecs' per-task cache (its microtask costs more).
      return engine.rewritePage(hi, lo, encodeContext(context, this.#sw._contextKeys), this.#visitor, Date.now() / 1000);
    }

    /** The stored form of the session (empty without personalization consent). */
    sessionBytes() {
      return this.#visitor ? this.#visitor.toBytes() : new Uint8Array(0);
    }

    /**
     * Releases the visitor's memory in the engine now, e.g. at the end of a server
     * request: garbage collection does it otherwise, but only later, and a process
     * deciding for thousands of visitors a second then pays for it in long pauses.
     * The handle then decides like one without a bundle.
     */
    free() {
      const v = this.#visitor;
      if (!v || v === this.#sw._pageVisitor) return;
      this.#visitor = null;
      this.#sw._release(v);
    }

    #persist() {
      const storage = this.#storage;
      if (!storage || !this.#visitor) return;
      try {
        const bytes = this.#visitor.toBytes(); // empty without consent
        if (bytes.length) storage.set(SESSION_KEY, b64.encode(bytes));
        else storage.remove(SESSION_KEY);
      } catch {
        // Storage full or blocked: the session lives on in memory.
      }
    }
  }

  /** The personalization runtime for one page (browser) or one process (edge). */
  return class Slotwise {
    #engine;
    #page;
    // Bundle strings and lookups, fetched from the engine once each.
    #content = [];
    #itemIds = [];
    #ruleIds = [];
    #variants = [];
    #itemIndex = new Map();
    #categoryIndex = new Map();
    #spare = [];

    /** @internal use Slotwise.load */
    constructor(engine, error) {
      this.#engine = engine;
      /** @internal the context keys the bundle's conditions read */
      this._contextKeys = null;
      if (engine) {
        this._contextKeys = [];
        for (let k; (k = engine.contextKey(this._contextKeys.length)) !== undefined; ) this._contextKeys.push(k);
      }
      /** Why the runtime has no bundle (slots then keep their defaults), or null. */
      this.error = error;
      /** The loaded bundle's id, or null. */
      this.bundleId = engine ? engine.bundleId : null;
      /** The site the bundle is for (the audience snippets must name), or null. */
      this.site = engine ? engine.site : null;
    }

    /** @internal item id → index in the bundle (-1: none) */
    _itemIndex(id) {
      let i = this.#itemIndex.get(id);
      if (i === undefined) {
        i = this.#engine.itemIndex(id);
        if (this.#itemIndex.size >= LOOKUP_CACHE) this.#itemIndex.clear();
        this.#itemIndex.set(id, i);
      }
      return i;
    }

    /** @internal category name → index in the bundle (-1: none) */
    _categoryIndex(name) {
      let i = this.#categoryIndex.get(name);
      if (i === undefined) {
        i = this.#engine.categoryIndex(name);
        if (this.#categoryIndex.size >= LOOKUP_CACHE) this.#categoryIndex.clear();
        this.#categoryIndex.set(name, i);
      }
      return i;
    }

    /**
     * Loads a bundle. Never rejects unless `strict: true`: without a usable bundle
     * every slot keeps the page's default and `sw.error` says why. Options:
     * `bundle` (URL, bytes or Response), `consent` (`{ personalization,
     * measurement, advertising }` booleans, and/or `tcf`: an IAB TCF v2.2 TC string,
     * `consentMode`: Google Consent Mode v2 state, `gpc`: Global Privacy Control,
     * default navigator.globalPrivacyControl), `policy` (`{ default: {...purposes},
     * vendorId }`: the site's legal default, default nothing but necessary, and its
     * IAB vendor id), `storage` (`{ get, set, remove }`
     * for the session; default localStorage where there is one; `null` for none),
     * `snippet` (the profile snippet token), `keys` (`{ kid: base64url public key }`
     * to verify snippets with), `audience` (default: the bundle's site).
     */
    static async load(options = {}) {
      try {
        await ready();
        loadReasonTables();
      } catch (e) {
        // The wasm module did not load (blocked, 404, old browser): page defaults.
        const error = new SlotwiseError('wasm.unavailable', `the wasm module did not load: ${e}`, { cause: e });
        if (options.strict) throw error;
        const sw = new Slotwise(null, error);
        sw.#page = sw.visitor();
        sw.profile = null;
        return sw;
      }
      let sw;
      try {
        const bytes = await bundleBytes(options.bundle, options.fetch);
        sw = new Slotwise(Engine.fromBytes(bytes), null);
      } catch (e) {
        const error = asSlotwiseError(e);
        if (options.strict) throw error;
        sw = new Slotwise(null, error);
      }
      const storage = options.storage === undefined ? defaultStorage() : options.storage;
      sw._keys = options.keys ?? null;
      sw._policy = options.policy ?? {};
      sw._audience = options.audience ?? sw.site;
      sw._storage = storage;
      sw._prefsUrl = options.preferences ?? '/v1/preferences';
      sw.#page = sw.visitor({ consent: options.consent, storage });
      sw._pageVisitor = sw.#page._wasm;
      try {
        if (storage && sw.consent.personalization) sw._mute(JSON.parse(storage.get(MUTED_KEY) ?? '[]'));
      } catch {
        // unreadable: the next snippet carries the mutes
      }
      if (options.signals && sw.#engine) {
        const opts = typeof options.signals === 'string' ? { endpoint: options.signals } : options.signals;
        const consent = sw.#page.consent;
        sw._signals = new SignalQueue({
          storage: storage ? { getItem: (k) => storage.get(k), setItem: (k, v) => storage.set(k, v), removeItem: (k) => storage.remove(k) } : null,
          ...opts,
          consent: queueConsent(consent, options.consent),
        });
        if (globalThis.window && globalThis.document) sw._signals.attach(globalThis.window, globalThis.document);
      }
      /** The page's snippet check: `{ ok, reason }`, or null without a snippet. */
      sw.profile = options.snippet ? await sw.#page.useSnippet(options.snippet) : null;
      return sw;
    }

    // ---- Page integration: decision listeners, declarative slots (dom.js) ----
    #listeners = { decision: new Set(), track: new Set(), prefs: new Set() };

    /** @internal Subscribes to `decision` or `track`; returns the unsubscribe function. */
    _on(kind, callback) {
      const set = this.#listeners[kind];
      set.add(callback);
      return () => set.delete(callback);
    }

    #emit(kind, ...args) {
      for (const callback of this.#listeners[kind]) {
        try {
          callback(...args);
        } catch (e) {
          queueMicrotask(() => { throw e; }); // reported, never thrown into decide/track
        }
      }
    }

    /**
     * Calls `callback(decisions, request)` after every decision for the page's visitor
     * (for sites that render slots themselves); returns the unsubscribe function.
     */
    onDecision(callback) {
      return this._on('decision', callback);
    }

    /**
     * Decides and fills every `[data-slotwise-slot]` element under `root` (default:
     * the document); a slot without content keeps its markup. Options: `context`,
     * `render(el, decision)` (return false to let the SDK render). Returns
     * `{ decisions, refresh(context?), stop() }`; `data-slotwise-live` slots re-decide
     * after each `track`. See dom.js.
     */
    hydrate(root, options) {
      return hydrate(this, root, options);
    }

    /** The page visitor's id (random per visitor; stable while the session is stored), or null. */
    get visitorId() {
      return this.#page ? this.#page.id : null;
    }

    /** Verifies and uses a profile snippet for the page's visitor (see `load`'s `snippet`). */
    async useSnippet(token, options = {}) {
      this._keys = options.keys ?? this._keys;
      return (this.profile = await this.#page.useSnippet(token, options));
    }

    /**
     * @internal Categories (names) muted on this device: never shown from now on
     * (the engine skips them as the snippet's own mutes), kept with personalization
     * consent, and every hydrated slot re-decides at once.
     */
    _mute(names) {
      const v = this._pageVisitor;
      const key = Array.isArray(names) && JSON.stringify(names);
      if (!v || !key || key === this._muted) return;
      this._muted = key;
      v.setMuted(Uint16Array.from(names.map((n) => this._categoryIndex(String(n))).filter((i) => i >= 0)));
      try {
        if (this.consent.personalization) this._storage?.set(MUTED_KEY, JSON.stringify(names));
      } catch {
        // storage full or blocked: the next snippet carries them
      }
      this.#emit('prefs');
    }

    /**
     * The visitor's preference centre at the origin (`load`'s `preferences` URL,
     * default `/v1/preferences`; a URL with a signed `token` acts for its subject):
     * `get()` and `set({ mute, more, contact })` resolve to the origin's answer.
     * `set` applies mutes on the device at once (hydrated slots re-decide), then
     * stores the change and switches to the next snippet. Rejects with a
     * `SlotwiseError` carrying the origin's code.
     */
    get preferences() {
      const url = this._prefsUrl ?? '/v1/preferences';
      const call = async (init) => {
        const r = await fetch(/token=/.test(url) ? url : `${url}?id=anon:${this.visitorId}`, init);
        const body = await r.json().catch(() => ({}));
        if (!r.ok) throw new SlotwiseError(body.error?.code ?? 'preferences', body.error?.message ?? r.status);
        this._mute(body.preferences?.mute);
        if (body.snippet?.token) await this.useSnippet(body.snippet.token);
        return body;
      };
      return {
        get: () => call(),
        set: (changes = {}) => {
          this._mute(changes.mute);
          return call({ method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(changes) });
        },
      };
    }

    /** The outbound signal queue (for debugging tools: `size`, `queue`, `pending`), or null. */
    get signalQueue() {
      return this._signals ?? null;
    }

    /**
     * @internal A visitor `free()` released: kept to be reset for a later `visitor()`
     * (edge builds, a few at most), or its engine memory released now.
     */
    _release(v) {
      if (this.#spare.length < SPARE_VISITORS && typeof v.reset === 'function') this.#spare.push(v);
      else v.free();
    }

    /** @internal */
    get _engine() {
      return this.#engine;
    }

    /**
     * A visitor handle (the page's own is used by `track` / `decide`): for edge
     * workers and servers deciding for many visitors with one loaded bundle.
     * `session`: stored session bytes to resume (used only with personalization
     * consent); `consent`: as in `load`; `storage`: where to keep the session; `id`:
     * the site's own id to hash for experiments and the holdout (default: the
     * session's random id).
     */
    visitor(options = {}) {
      if (!this.#engine) return new SlotwiseVisitor(this, null, null);
      const bits = resolveBits(options.consent, this._policy).bits;
      const storage = options.storage ?? null;
      let visitor = null;
      let stored = options.session ?? null;
      if (!stored && storage && bits & 2) {
        try {
          const text = storage.get(SESSION_KEY);
          if (text) stored = b64.decode(text);
        } catch {
          stored = null;
        }
      }
      if (stored && bits & 2) {
        try {
          visitor = Visitor.fromBytes(this.#engine, stored, bits);
        } catch {
          visitor = null; // unreadable: start afresh
        }
      }
      if (!visitor) {
        const [hi, lo] = seed();
        visitor = this.#spare.pop();
        if (visitor) visitor.reset(this.#engine, hi, lo, nowSecs());
        else visitor = new Visitor(this.#engine, hi, lo, nowSecs());
        visitor.setConsent(bits);
      }
      if (typeof options.id === 'string' && options.id !== '') visitor.id = options.id;
      return new SlotwiseVisitor(this, visitor, storage);
    }

    /** Records an event for the page's visitor (see `SlotwiseVisitor.track`). */
    track(event) {
      this.#page.track(event);
      this.#emit('track', event);
    }

    /** Sets the page visitor's consent (any source); revoking deletes the stored session. */
    setConsent(consent) {
      const result = this.#page.setConsent(consent);
      try {
        if (!result.consent.personalization) this._storage?.remove(MUTED_KEY);
      } catch {
        // storage blocked
      }
      if (this._signals) this._signals.setConsent(queueConsent(result.consent, consent));
      return result;
    }

    /** The page visitor's consent. */
    get consent() {
      return this.#page.consent;
    }

    /**
     * Decides every requested slot for the page's visitor: `{ slots, context }`, the
     * context being the page's attributes (`{ path, device, country, ... }`) that
     * rules read. Returns an object keyed by slot name; each decision has `slot`,
     * `decisionId`, `content` (null: keep the page's markup), `items` (ids), `reason`
     * (a stable code), `variant` (`{ experiment, variation }` or null) and `rules`
     * (ids of the rules that matched). Never throws for any input.
     */
    decide(request = {}) {
      const decisions = this.#page.decide(request);
      this.#emit('decision', decisions, request);
      return decisions;
    }

    /** @internal */
    _decide(request, visitor) {
      const slots = Array.isArray(request.slots) ? request.slots : [];
      const out = {};
      const asked = [];
      for (const slot of slots) {
        const name = String(slot);
        if (!this.#engine || !visitor) out[name] = jsDecision(name, 'no_bundle');
        else if (name === '' || name.includes(',')) out[name] = jsDecision(name, 'bad_slot_name');
        else asked.push(name);
      }
      if (asked.length === 0) return out;
      // The input: the slot names, then the page context (Engine.decide).
      writer.len = 0;
      writer.varint(asked.length);
      for (let i = 0; i < asked.length; i++) writer.str(asked[i]);
      writeContext(request.context, this._contextKeys);
      const [hi, lo] = seed();
      const base = this.#engine.decide(writer.buf.subarray(0, writer.len), hi, lo, visitor, nowSecs()) >>> 2;
      // Copied out before anything else calls into the module.
      if (words.byteLength === 0) words = new Uint32Array((memory ??= wasmMemory()).buffer);
      if (base === 0) {
        for (const name of asked) out[name] = jsDecision(name, 'no_bundle');
        return out;
      }
      const len = words[base];
      if (flat.length < len) flat = new Uint32Array(len * 2);
      for (let k = 0; k < len; k++) flat[k] = words[base + 1 + k];
      for (let at = 0, i = 0; at < len; at = recordEnd(flat, at), i++) {
        const d = this.#decisionAt(flat, at, asked[i]);
        out[asked[i]] = d;
        if (visitor === this._pageVisitor) this.#signal('impression', d);
      }
      return out;
    }

    /**
     * The decision object of the engine record at `flat[at]` (see decisionRecords),
     * for the slot named `slot`: read in place, its strings from the caches.
     */
    #decisionAt(flat, at, slot) {
      const slotPlus = flat[at], contentPlus = flat[at + 1], reason = flat[at + 2];
      const exp = flat[at + 4], variation = flat[at + 5];
      const n = flat[at + 8];
      const itemIndices = new Array(n);
      const items = new Array(n);
      for (let k = 0; k < n; k++) items[k] = this.#itemId((itemIndices[k] = flat[at + 9 + k]));
      const m = flat[at + 9 + n];
      const rules = new Array(m);
      for (let k = 0; k < m; k++) rules[k] = this.#ruleId(slotPlus - 1, flat[at + 10 + n + k]);
      const d = {
        slot,
        decisionId: hex8(flat[at + 6]) + hex8(flat[at + 7]),
        content: contentPlus === 0 ? null : this.#contentAt(contentPlus - 1),
        items,
        reason: reasonCodes[reason] ?? 'unknown',
        variant: exp === 0 ? null : this.#variant(exp - 1, variation - 1),
        rules,
      };
      return explainData.set(d, [slotPlus, reason, flat[at + 3], itemIndices, variation]);
    }

    /**
     * @internal Adopts the decisions an edge made for this page (handoff.js) for the
     * page visitor, as `decide` returns them: `explain` and `click` work on them; their
     * impressions are queued only when the edge did not send them (`sent`). Null when
     * they do not fit the loaded bundle.
     */
    _adopt(names, flat, sent) {
      try {
        const out = {};
        for (let at = 0, i = 0; at < flat.length; at = recordEnd(flat, at), i++) {
          const d = this.#decisionAt(flat, at, names[i]);
          out[d.slot] = d;
          if (!sent) this.#signal('impression', d);
        }
        this.#emit('decision', out, { slots: names, handoff: true });
        return out;
      } catch {
        return null;
      }
    }

    /** Queues a signal for a decision of the page visitor (when signals are on). */
    #signal(kind, d, extra = {}) {
      const q = this._signals;
      const data = d && explainData.get(d);
      if (!q || !data || (kind === 'impression' && data[3].length === 0)) return;
      const holdout = d.reason === 'holdout';
      const items = kind === 'impression' ? data[3] : [extra.item ?? data[3][0] ?? 0];
      for (const item of items) {
        try {
          q.push({ kind, decisionId: d.decisionId, slot: data[0] - 1, item, variant: data[4], holdout, ...(extra.value != null ? { value: extra.value } : {}) });
        } catch {
          // A signal that does not encode is dropped, never thrown into the page.
        }
      }
    }

    /** Records a click on a decision's item (default: its first) — sent with measurement consent. */
    click(decision, itemId) {
      const data = decision && explainData.get(decision);
      if (!data) return;
      const at = itemId == null ? 0 : decision.items.indexOf(itemId);
      this.#signal('click', decision, { item: data[3][Math.max(at, 0)] });
    }

    /** Records a conversion (`{ value }` in the shop's currency, optionally for a decision). */
    convert(options = {}) {
      const q = this._signals;
      if (!q) return;
      const cents = Number.isFinite(options.value) && options.value > 0 ? Math.round(options.value * 100) : undefined;
      if (options.decision) return this.#signal('conversion', options.decision, { value: cents });
      try {
        q.push({ kind: 'conversion', ...(cents != null ? { value: cents } : {}) });
      } catch {
        // dropped, never thrown
      }
    }

    /** Sends what is queued now (with measurement consent); resolves when done. */
    flush() {
      return this._signals ? this._signals.flush() : Promise.resolve();
    }

    /** "Why am I seeing this": the decision's reason code and a human sentence. */
    explain(decision) {
      const code = decision && decision.reason;
      const data = decision && explainData.get(decision);
      if (data && this.#engine) return { code, text: this.#engine.explain(data[0], data[1], data[2]) };
      return { code, text: JS_REASONS[code] ?? '' };
    }

    #itemId(index) {
      let id = this.#itemIds[index];
      if (id === undefined) {
        id = this.#engine.itemId(index);
        this.#itemIds[index] = id;
      }
      return id;
    }

    #ruleId(slot, rule) {
      const ids = (this.#ruleIds[slot] ??= []);
      let id = ids[rule];
      if (id === undefined) {
        id = this.#engine.ruleId(slot, rule);
        ids[rule] = id;
      }
      return id;
    }

    /** `{ experiment, variation }`: a fresh object per decision, its strings cached. */
    #variant(e, v) {
      const names = (this.#variants[e] ??= { key: this.#engine.experimentKey(e), names: [] });
      let name = names.names[v];
      if (name === undefined) {
        name = this.#engine.variationName(e, v);
        names.names[v] = name;
      }
      return { experiment: names.key, variation: name };
    }

    #contentAt(index) {
      let c = this.#content[index];
      if (c === undefined) {
        c = Object.freeze(this.#engine.content(index));
        this.#content[index] = c;
      }
      return c;
    }
  };
}

/**
 * @internal The engine's flat decision output, one record per slot: `[slot + 1,
 * content + 1, reason, because + 1, experiment + 1, variation + 1, id high, id low,
 * n, item × n, m, rule × m]` (see `Engine.decide` in src/wasm.rs).
 */
export function* decisionRecords(flat) {
  for (let at = 0; at < flat.length; at = recordEnd(flat, at)) {
    const n = flat[at + 8];
    yield {
      slotPlus: flat[at], contentPlus: flat[at + 1], reason: flat[at + 2], because: flat[at + 3],
      exp: flat[at + 4], variation: flat[at + 5], decisionId: hex8(flat[at + 6]) + hex8(flat[at + 7]),
      items: flat.subarray(at + 9, at + 9 + n), rules: flat.subarray(at + 10 + n, recordEnd(flat, at)),
    };
  }
}

/** The slot index of each flat record, in order (without reading the rest). */
export function recordSlots(flat) {
  const out = [];
  for (let at = 0; at < flat.length; at = recordEnd(flat, at)) out.push(flat[at] - 1);
  return out;
}

/** Where the flat record at `flat[at]` ends (the next one starts). */
function recordEnd(flat, at) {
  const n = flat[at + 8];
  return at + 10 + n + flat[at + 9 + n];
}

/**
 * The signal queue's consent: measurement granted → send; explicitly denied →
 * discard; not decided yet → buffer in memory with the original timestamps.
 */
function queueConsent(resolved, choice = {}) {
  return {
    personalization: resolved.personalization,
    measurement: resolved.measurement ? true : choice?.measurement === false ? false : undefined,
  };
}

function jsDecision(slot, reason) {
  return { slot, decisionId: null, content: null, items: [], reason, variant: null, rules: [] };
}
