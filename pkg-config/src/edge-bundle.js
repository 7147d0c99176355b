// The edge worker's bundle: where it comes from, and the one copy an isolate keeps.
//
// Sources (`SLOTWISE_BUNDLE`, or the handler's `options.bundle`):
// - bytes (`Uint8Array` / `ArrayBuffer`: a Data module, a binding of bytes): decoded
//   once, never refreshed;
// - a URL (the origin's `GET /v1/bundle`): fetched with `If-None-Match` on the ETag
//   it last gave, so an unchanged bundle costs a 304;
// - a Fetcher binding (an object with `fetch`: a static-assets or service binding):
//   the same, through the binding, for the path `SLOTWISE_BUNDLE_PATH`;
// - a KV namespace (an object with `get`): `get(SLOTWISE_BUNDLE_KEY, "arrayBuffer")`,
//   re-decoded only when the bytes changed.
//
// The first request of an isolate waits for the bundle; after that no request waits:
// once the copy is older than the TTL (`SLOTWISE_BUNDLE_TTL` seconds, default 60) a
// request starts one revalidation in the background (`ctx.waitUntil`) and goes on
// with the copy it has. A failed refresh — network error, HTTP error, a bundle that
// does not decode — keeps the last good bundle and is retried after the next TTL.

import { SlotwiseError } from './slotwise.js';

const DEFAULT_TTL_SECS = 60;
/** After a failed first load, requests pass through without retrying for this long. */
const FIRST_LOAD_RETRY_MS = 1000;
const DEFAULT_PATH = '/slotwise/bundle.swb';
const DEFAULT_KEY = 'bundle';

/** Where the bundle comes from, from the handler's env and options; null: none. */
export function bundleSource(env, options) {
  const value = options.bundle ?? env.SLOTWISE_BUNDLE ?? null;
  if (value == null) return null;
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return { kind: 'bytes', id: value, value };
  if (typeof value === 'string' || value instanceof URL) {
    const url = String(value);
    return { kind: 'url', id: url, url, fetch: options.fetch ?? ((...a) => fetch(...a)) };
  }
  if (typeof value.fetch === 'function') {
    const path = options.bundlePath ?? env.SLOTWISE_BUNDLE_PATH ?? DEFAULT_PATH;
    const url = new URL(path, 'https://slotwise.invalid').href;
    return { kind: 'url', id: value, key: url, url, fetch: (input, init) => value.fetch(input, init) };
  }
  if (typeof value.get === 'function') {
    const key = options.bundleKey ?? env.SLOTWISE_BUNDLE_KEY ?? DEFAULT_KEY;
    return { kind: 'kv', id: value, key, ns: value };
  }
  return { kind: 'invalid', id: value };
}

/** The bundle TTL in milliseconds from `SLOTWISE_BUNDLE_TTL` / `options.bundleTtl`. */
export function bundleTtlMs(env, options) {
  const secs = Number(options.bundleTtl ?? env.SLOTWISE_BUNDLE_TTL ?? DEFAULT_TTL_SECS);
  return Number.isFinite(secs) && secs >= 0 ? secs * 1000 : DEFAULT_TTL_SECS * 1000;
}

/**
 * One isolate's bundle. `current(source, runtime, ctx)` resolves to `{ sw }` (a
 * loaded Slotwise instance of `runtime`) or `{ error }` (a stable code) when there is
 * no good bundle yet.
 */
export class BundleCache {
  #source = null; // the source the state below is for
  #bytes = null; // the last good bundle
  #etag = null;
  #sw = null; // #bytes decoded, for #runtime
  #runtime = null;
  #checkedAt = 0; // when the source was last asked (ms)
  #refreshing = null;
  #firstLoad = null;
  #failure = null; // { code, at } of a failed first load

  #onTrap;

  /** What the last background refresh did: 'not_modified', 'updated', 'unchanged' or an error code. */
  lastRefresh = null;

  /** `onTrap(runtime)` is told when decoding a bundle trapped in `runtime`'s wasm. */
  constructor(onTrap = () => {}) {
    this.#onTrap = onTrap;
  }

  /**
   * The bundle for this request. `runtime` is the current wasm instance
   * (`{ Slotwise }`): after it is replaced (a trap), the kept bytes are decoded again.
   */
  async current(source, runtime, { ctx, ttlMs, now = Date.now() }) {
    if (!this.#sameSource(source)) this.#reset(source);
    if (this.#bytes && this.#runtime !== runtime) {
      this.#sw = await decode(runtime, this.#bytes);
      this.#runtime = runtime;
    }
    if (!this.#sw) {
      if (this.#failure && now - this.#failure.at < Math.min(FIRST_LOAD_RETRY_MS, ttlMs || FIRST_LOAD_RETRY_MS)) {
        return { error: this.#failure.code };
      }
      this.#firstLoad ??= this.#load(source, runtime, now).finally(() => {
        this.#firstLoad = null;
      });
      await this.#firstLoad;
      if (!this.#sw) return { error: this.#failure ? this.#failure.code : 'bundle.fetch_failed' };
      return { sw: this.#sw };
    }
    if (source.kind !== 'bytes' && now - this.#checkedAt >= ttlMs && !this.#refreshing) {
      const refresh = this.#refresh(source, runtime, now).finally(() => {
        this.#refreshing = null;
      });
      this.#refreshing = refresh;
      if (ctx && typeof ctx.waitUntil === 'function') ctx.waitUntil(refresh);
    }
    return { sw: this.#sw };
  }

  /** Forgets the decoded bundle of a replaced runtime (the bytes stay). */
  dropRuntime(runtime) {
    if (this.#runtime === runtime) {
      this.#sw = null;
      this.#runtime = null;
    }
  }

  #sameSource(source) {
    const s = this.#source;
    return s !== null && s.kind === source.kind && s.id === source.id && s.key === source.key;
  }

  #reset(source) {
    this.#source = source;
    this.#bytes = this.#etag = this.#sw = this.#runtime = this.#failure = null;
    this.#checkedAt = 0;
    this.#refreshing = this.#firstLoad = null;
    this.lastRefresh = null;
  }

  async #load(source, runtime, now) {
    try {
      const got = await fetchBundle(source, null);
      if (!got.bytes) throw new SlotwiseError('bundle.fetch_failed', 'the bundle source answered 304 to a first load');
      const sw = await decode(runtime, got.bytes);
      if (!this.#sameSource(source)) return;
      this.#bytes = got.bytes;
      this.#etag = got.etag;
      this.#sw = sw;
      this.#runtime = runtime;
      this.#checkedAt = now;
      this.#failure = null;
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) this.#onTrap(runtime);
      if (this.#sameSource(source)) this.#failure = { code: codeOf(e), at: now };
    }
  }

  async #refresh(source, runtime, now) {
    this.#checkedAt = now; // a failure is retried after the next TTL, not at once
    try {
      const got = await fetchBundle(source, this.#etag);
      if (!this.#sameSource(source)) return;
      if (!got.bytes) {
        this.lastRefresh = 'not_modified';
        return;
      }
      if (sameBytes(got.bytes, this.#bytes)) {
        this.#etag = got.etag;
        this.lastRefresh = 'unchanged';
        return;
      }
      const sw = await decode(runtime, got.bytes);
      if (!this.#sameSource(source) || this.#runtime !== runtime) return;
      this.#bytes = got.bytes;
      this.#etag = got.etag;
      this.#sw = sw;
      this.lastRefresh = 'updated';
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) this.#onTrap(runtime);
      this.lastRefresh = codeOf(e); // the last good bundle stays
    }
  }
}

/** `{ bytes, etag }` from the source; `bytes` null when the ETag still matches. */
async function fetchBundle(source, etag) {
  switch (source.kind) {
    case 'bytes':
      return { bytes: source.value instanceof Uint8Array ? source.value : new Uint8Array(source.value), etag: null };
    case 'kv': {
      let value;
      try {
        value = await source.ns.get(source.key, 'arrayBuffer');
      } catch (e) {
        throw new SlotwiseError('bundle.fetch_failed', `reading the bundle from KV failed: ${e}`, { cause: e });
      }
      if (value == null) throw new SlotwiseError('bundle.fetch_failed', `no bundle under the KV key ${source.key}`);
      return { bytes: new Uint8Array(value), etag: null };
    }
    case 'url': {
      const headers = etag ? { 'if-none-match': etag } : {};
      let response;
      try {
        response = await source.fetch(new Request(source.url, { headers }));
      } catch (e) {
        throw new SlotwiseError('bundle.fetch_failed', `fetching the bundle failed: ${e}`, { cause: e });
      }
      if (response.status === 304 && etag) {
        await response.body?.cancel();
        return { bytes: null, etag };
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new SlotwiseError('bundle.fetch_failed', `fetching the bundle failed: HTTP ${response.status}`);
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      return { bytes, etag: response.headers.get('etag') };
    }
    default:
      throw new SlotwiseError('options.bundle', 'SLOTWISE_BUNDLE must be bytes, a URL, a Fetcher or a KV namespace');
  }
}

/** Decodes bytes with `runtime`'s Slotwise; throws the bundle's error code. */
async function decode(runtime, bytes) {
  return runtime.Slotwise.load({ bundle: bytes, storage: null, strict: true });
}

function sameBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function codeOf(e) {
  if (e instanceof WebAssembly.RuntimeError) return 'wasm_trap';
  return e && typeof e.code === 'string' ? e.code : 'internal';
}
