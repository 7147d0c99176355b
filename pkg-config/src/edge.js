// The edge handler: fetches the origin page and fills its slots: in one go when the
// origin has sent the whole page by the time it is read (a cached page, a fast
// origin), else while it streams.
// Web-standard APIs only (fetch, Request, Response, TransformStream), so the same
// code runs in workerd and in Node / Deno / other `fetch` runtimes.
//
// Failure isolation: whatever goes wrong on Slotwise's side (no bundle, a bad one, a
// trap in wasm), the origin response goes out untouched, with the reason in the
// `x-slotwise` header. Slotwise never turns an origin 200 into an error. A trap in
// wasm (a `WebAssembly.RuntimeError`) retires the instance: the next request gets a
// fresh one (see `createBindings` in xtask/src/build.rs). If the rewriter fails while
// the page streams, the bytes it held back go out raw and the rest is copied as it
// comes: nothing is lost or reordered. If it fails on a page in hand, that page goes
// out as the origin sent it, with the reason, and its impressions are not sent.
//
// Per request it reads: consent from the `sw_consent` cookie (granted purposes,
// comma-separated), the IAB `euconsent-v2` cookie and the `Sec-GPC` header; with
// personalization consent, the session from `sw_session` and the profile snippet from
// `sw_profile` (verified against `env.SLOTWISE_KEYS`, JSON `{ kid: public key }`, for
// the audience `env.SLOTWISE_AUDIENCE`, default the bundle's site; verified snippets
// are cached per isolate until they expire); and the page context: path, device class
// from the user agent, country/region when the platform provides them (`request.cf`),
// language. The updated session goes back in `sw_session` (HttpOnly, Secure,
// SameSite=Lax) only with consent; without it a stored session cookie is deleted.
//
// Caching: the request to the origin goes without Slotwise's per-visitor cookies
// (`sw_session`, `sw_profile`), so the origin page can be cached at the edge as for
// any visitor. The personalized response is `private` (the origin's `max-age` and
// `no-*` directives kept, its shared-cache ones dropped), without the origin's ETag
// (it names other bytes), with `Vary: Cookie, Sec-GPC, User-Agent, Accept-Language`
// (what changes the page); visitors without history can share a cached page per
// variant key (edge-cache.js, opt-in). Real-world origin responses (compressed, non-UTF-8, HEAD,
// ranges, 304, redirects, other types): see edge-origin.js; every response's
// encoding headers match its body. Bots (bots.js) get the origin's page as it is:
// no experiment, no signal, no cookie. A visitor in the bundle's holdout gets every
// slot's default: the page as the origin sent it.
// With measurement consent, the page's impressions go to `env.SLOTWISE_SIGNALS` (the
// origin's POST /v1/signals) through `ctx.waitUntil`, after the response. The
// page's decisions follow it in an inert script for the browser SDK to adopt
// (handoff.js). The bundle: see edge-bundle.js.

import { encodeBatch, MEDIA_TYPE } from './signals.js';
import { decisionRecords, recordSlots, verifySnippet } from './slotwise.js';
import { BundleCache, bundleSource, bundleTtlMs } from './edge-bundle.js';
import { SnippetCache } from './edge-snippets.js';
import { isUtf8, normalize, notRewritable, prepare } from './edge-origin.js';
import { classifyRequest } from './bots.js';
import { handoffScript } from './handoff.js';
import { forCache, fromCache, variantCache, variantKey, variantTtl } from './edge-cache.js';

/** The debugging header naming what the worker did with a response. */
export const REASON_HEADER = 'x-slotwise';

const UTF8 = new TextEncoder();

/** Request headers that change the personalized page (with the cookies). */
const VARY = ['Cookie', 'Sec-GPC', 'User-Agent', 'Accept-Language'];

/**
 * @internal Builds `handle` and a ready module-worker `handler`. `newInstance()`
 * makes a fresh wasm instance, `{ bindings, Slotwise }`: one is used until it traps.
 */
export function createHandler(newInstance) {
  let current = null;
  const bundles = new BundleCache((trapped) => retire(trapped));
  const snippets = new SnippetCache();
  let keysText;
  let keysParsed = {};

  /** Drops an instance that trapped; the next request makes a new one. */
  function retire(trapped) {
    if (current !== trapped) return;
    current = null;
    bundles.dropRuntime(trapped);
    snippets.clear();
  }

  function keysOf(keys) {
    if (keys && typeof keys === 'object') return keys;
    if (keys !== keysText) {
      keysText = keys;
      keysParsed = parseKeys(keys);
    }
    return keysParsed;
  }

  /**
   * Handles one request: `env.SLOTWISE_ORIGIN` (or `options.origin`) is the origin to
   * fetch pages from (omit it to fetch the request as is), `env.SLOTWISE_BUNDLE` (or
   * `options.bundle`) the bundle: bytes, a URL, a Fetcher or a KV binding.
   * `options.snippetCache: false` verifies every snippet (no per-isolate cache).
   */
  async function handle(request, env = {}, ctx = undefined, options = {}) {
    const instance = (current ??= newInstance());
    let plan = null;
    const cache = variantCache(env, options);
    if (cache && request.method === 'GET' && !classifyRequest(request).bot) {
      try {
        plan = await cachePlan(instance, cache, request, env, ctx, options);
        if (plan && plan.hit) return plan.hit;
      } catch (e) {
        if (e instanceof WebAssembly.RuntimeError) retire(instance);
        plan = null; // no cache this time: the page is filled as usual
      }
    }
    let upstream = await normalize(await fetchOrigin(request, options.origin ?? env.SLOTWISE_ORIGIN, options.fetch));
    let metaCharset = null;
    if (!notRewritable(request, upstream)) ({ response: upstream, metaCharset } = await prepare(upstream));
    try {
      return await personalize(instance, request, upstream, metaCharset, env, ctx, options, plan);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) retire(instance);
      return withReason(upstream, e instanceof WebAssembly.RuntimeError ? 'wasm_trap' : 'internal');
    }
  }

  async function personalize(instance, request, upstream, metaCharset, env, ctx, options, plan = null) {
    const skip = notRewritable(request, upstream);
    if (skip) return withReason(upstream, skip);
    // Bots (bots.js): the page's defaults, no experiment, no signal, no cookie.
    const bot = classifyRequest(request);
    if (bot.bot) return withReason(upstream, `bot; bot=${bot.reason}`);
    if (!isUtf8(metaCharset)) return withReason(upstream, 'charset');
    const v = plan ?? (await visit(instance, request, env, ctx, options));
    if (v.error) return withReason(upstream, v.error);
    const { sw, visitor, notes, cookies } = v;
    const rewriter = plan ? plan.rewriter : visitor._pageRewriter(requestContext(request));
    if (!rewriter) return withReason(upstream, 'no_rewriter');

    const headers = new Headers(upstream.headers);
    headers.delete('content-length'); // the length changes (the runtime sets the new one, or streams chunked)
    headers.delete('etag');
    headers.set('cache-control', privateCacheControl(upstream.headers.get('cache-control')));
    headers.set('vary', mergeVary(upstream.headers.get('vary'), VARY));
    headers.set(REASON_HEADER, ['filled', ...notes].join('; '));
    if (plan) headers.set(REASON_HEADER, ['filled', 'cache=miss', `key=${plan.key}`, ...notes].join('; '));
    const flat = rewriter.decisions;
    const sendImpressions = visitorOutputs(headers, v, flat, env, ctx, options);
    visitor.free(); // decided and stored: its wasm memory goes back now, not at a later GC
    const onFailure = (e) => {
      if (e instanceof WebAssembly.RuntimeError) retire(instance);
    };
    // The decisions, handed to the browser SDK (handoff.js): it adopts them instead
    // of deciding again, and sends no impression the edge sent.
    const names = recordSlots(flat).map(slotNames(sw._engine));
    const tail = UTF8.encode(handoffScript(sw.bundleId, names, flat, Boolean(sendImpressions)));
    // Called once, with the filled page (a Blob, or a stream that fills it); `failed`
    // when the page in hand went out as the origin sent it.
    const respond = (body, failed) => {
      if (failed) headers.set(REASON_HEADER, `passthrough; reason=${failed}`);
      else sendImpressions?.();
      if (plan && !failed && ctx && typeof ctx.waitUntil === 'function') {
        // The filled page goes to the variant cache as it goes to the visitor.
        let stored = body;
        if (body instanceof ReadableStream) [body, stored] = body.tee();
        ctx.waitUntil(plan.store(stored, upstream.status, headers).catch(() => {}));
      }
      return new Response(body, { status: upstream.status, statusText: upstream.statusText, headers });
    };
    return filledPage(instance.bindings, upstream.body, rewriter, onFailure, tail, respond);
  }

  /**
   * The visitor of a request: consent (cookies, TCF, GPC), the stored session and
   * the verified snippet (with personalization consent). `{ sw, visitor, notes,
   * cookies, history }` (`history`: the decisions may use the visitor's own session
   * or snippet), or `{ error }` when there is no usable bundle.
   */
  async function visit(instance, request, env, ctx, options) {
    const source = bundleSource(env, options);
    if (source == null) return { error: 'no_bundle_configured' };
    const got = await bundles.current(source, instance, { ctx, ttlMs: bundleTtlMs(env, options) });
    if (got.error) return { error: got.error };
    const sw = got.sw;
    const notes = [];
    const cookies = parseCookies(request.headers.get('cookie'));
    const consent = {
      ...grantedPurposes(cookies.sw_consent),
      tcf: cookies['euconsent-v2'],
      gpc: request.headers.get('sec-gpc') === '1',
    };
    const session = cookies.sw_session ? fromBase64url(cookies.sw_session) : null;
    if (cookies.sw_session && !session) notes.push('session=unreadable');
    const visitor = sw.visitor({ session, consent });
    if (visitor.consent.personalization && cookies.sw_profile) {
      const keys = keysOf(options.keys ?? env.SLOTWISE_KEYS);
      const audience = String(options.audience ?? env.SLOTWISE_AUDIENCE ?? sw.site);
      try {
        const now = Date.now() / 1000;
        let cached = false;
        if (options.snippetCache === false) {
          const snippet = await verifySnippet(instance.bindings, cookies.sw_profile, keys, audience, now);
          visitor._wasm.setProfile(snippet);
          snippet.free();
        } else {
          cached = await snippets.use(instance.bindings, visitor._wasm, cookies.sw_profile, keys, audience, now);
        }
        notes.push(cached ? 'snippet=cached' : 'snippet=verified');
      } catch (e) {
        if (e instanceof WebAssembly.RuntimeError) throw e;
        notes.push(`snippet=${e && e.code ? e.code : 'invalid'}`); // the visitor stays anonymous
      }
    }
    const history = Boolean(visitor.consent.personalization && ((session && !notes.includes('session=unreadable')) || notes.some((n) => n === 'snippet=cached' || n === 'snippet=verified')));
    return { sw, visitor, notes, cookies, history };
  }

  /**
   * The variant cache's plan for a request (cache-safe visitors only: no session or
   * snippet in use; see edge-cache.js): `{ hit }` when the page is cached (with this
   * visitor's cookie and impressions), else the visit plus a deterministic rewriter
   * and `store(body, status, headers)`; null for visitors with history.
   */
  async function cachePlan(instance, cache, request, env, ctx, options) {
    const v = await visit(instance, request, env, ctx, options);
    if (v.error || v.history) return null;
    const context = requestContext(request);
    const key = await variantKey(v.sw, v.visitor, request, context, Boolean(signalsTo(env, options, v.visitor, ctx)));
    const rewriter = v.visitor._pageRewriter(context, key.seed);
    if (!rewriter) return null;
    const cached = await cache.match(key.request);
    if (!cached) {
      const store = (body, status, headers) => cache.put(key.request, forCache(body, status, headers, variantTtl(env, options)));
      return { ...v, rewriter, key: key.hex, store };
    }
    const flat = rewriter.decisions;
    rewriter.free();
    const headers = fromCache(cached.headers);
    headers.set(REASON_HEADER, ['filled', 'cache=hit', `key=${key.hex}`, ...v.notes].join('; '));
    visitorOutputs(headers, v, flat, env, ctx, options)?.();
    v.visitor.free();
    return { hit: new Response(cached.body, { status: cached.status, headers }) };
  }

  return { handle, handler: { fetch: (request, env, ctx) => handle(request, env, ctx) } };
}

const MAX_COOKIE = 4096;

/** Where the page's impressions go, or null (no endpoint, consent or waitUntil). */
function signalsTo(env, options, visitor, ctx) {
  const signals = options.signals ?? env.SLOTWISE_SIGNALS;
  return signals && visitor.consent.measurement && ctx && typeof ctx.waitUntil === 'function' ? signals : null;
}

/**
 * What a filled page carries for its visitor: the session cookie (set with
 * personalization consent, deleted without it) on `headers`, and, with measurement
 * consent, its impressions: returned as a function that sends them through
 * `ctx.waitUntil` after the response (never delaying or breaking it), called once
 * the page has gone out filled; null when there are none to send.
 */
function visitorOutputs(headers, { visitor, cookies }, flat, env, ctx, options) {
  const stored = visitor.sessionBytes(); // empty without personalization consent
  const cookie = stored.length ? toBase64url(stored) : '';
  if (cookie && cookie.length <= MAX_COOKIE) {
    headers.append('set-cookie', `sw_session=${cookie}; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax`);
  } else if (cookies.sw_session) {
    headers.append('set-cookie', 'sw_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax');
  }
  const signals = signalsTo(env, options, visitor, ctx);
  const batch = signals && impressionBatch(flat, visitor.consent);
  if (!batch) return null;
  return () =>
    ctx.waitUntil(
      (options.fetch ?? fetch)(signals, { method: 'POST', headers: { 'content-type': MEDIA_TYPE }, body: batch }).catch(() => {}),
    );
}

/** An SWG1 batch of impressions from a page's flat decision records, or null. */
function impressionBatch(flat, consent) {
  const hex8 = (n) => (n >>> 0).toString(16).padStart(8, '0');
  const bits = 1 | (consent.personalization ? 2 : 0) | (consent.measurement ? 4 : 0) | (consent.advertising ? 8 : 0);
  const time = Math.floor(Date.now() / 1000);
  const out = [];
  for (const d of decisionRecords(flat)) {
    for (const item of d.items) {
      const id = crypto.getRandomValues(new Uint32Array(2));
      out.push({
        kind: 'impression', eventId: hex8(id[0]) + hex8(id[1]), decisionId: d.decisionId, slot: d.slotPlus - 1, item,
        variant: d.variation, holdout: d.reason === 2, time, consent: bits,
      });
    }
  }
  try {
    return out.length ? encodeBatch(out) : null;
  } catch {
    return null;
  }
}

/** `name=value` pairs of a Cookie header (bounded; malformed pairs are skipped). */
function parseCookies(header) {
  const out = {};
  if (!header || header.length > 16384) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (value.length <= MAX_COOKIE && !(name in out)) out[name] = value;
  }
  return out;
}

/** `sw_consent=personalization,measurement` → explicit choices (absent: unset). */
function grantedPurposes(value) {
  if (typeof value !== 'string') return {};
  const granted = new Set(decodeURIComponent(value).split(',').map((s) => s.trim()));
  const answer = (p) => (granted.has(p) ? true : granted.has(`-${p}`) ? false : undefined);
  return { personalization: answer('personalization'), measurement: answer('measurement'), advertising: answer('advertising') };
}

function parseKeys(keys) {
  if (!keys) return {};
  if (typeof keys === 'object') return keys;
  try {
    return JSON.parse(keys);
  } catch {
    return {};
  }
}

function fromBase64url(text) {
  try {
    const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64url without padding, encoded directly (no `btoa` and three replaces per cookie). */
function toBase64url(bytes) {
  let s = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += BASE64URL[n >> 18] + BASE64URL[(n >> 12) & 63] + BASE64URL[(n >> 6) & 63] + BASE64URL[n & 63];
  }
  if (i < bytes.length) {
    const two = i + 1 < bytes.length;
    const n = (bytes[i] << 16) | (two ? bytes[i + 1] << 8 : 0);
    s += BASE64URL[n >> 18] + BASE64URL[(n >> 12) & 63] + (two ? BASE64URL[(n >> 6) & 63] : '');
  }
  return s;
}

/** Slot names by index, read from wasm once per engine (they come with the bundle). */
const SLOT_NAMES = new WeakMap();
function slotNames(engine) {
  let names = SLOT_NAMES.get(engine);
  if (!names) SLOT_NAMES.set(engine, (names = []));
  return (index) => (names[index] ??= engine.slotName(index));
}

/** Coarse page context from the request: nothing that identifies the visitor. */
function requestContext(request) {
  const ua = request.headers.get('user-agent') ?? '';
  const device = /iPad|Tablet|Android(?!.*Mobile)/i.test(ua) ? 'tablet' : /Mobi|iPhone|Android/i.test(ua) ? 'mobile' : 'desktop';
  const cf = request.cf ?? {};
  const language = (request.headers.get('accept-language') ?? '').split(',')[0].split(';')[0].trim().toLowerCase();
  const context = { path: pathOf(request.url), device };
  if (language) context.language = language;
  if (typeof cf.country === 'string') context.country = cf.country;
  if (typeof cf.region === 'string') context.region = cf.region;
  return context;
}

/**
 * The path of a serialized absolute URL (a `Request`'s `url`: `scheme://host/path?query`),
 * as `new URL(url).pathname` gives it, without parsing the URL again.
 */
export function pathOf(url) {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  let end = url.length;
  const query = url.indexOf('?', start);
  if (query >= 0) end = query;
  const hash = url.indexOf('#', start);
  if (hash >= 0 && hash < end) end = hash;
  return url.slice(start, end);
}

/** Slotwise's per-visitor cookies: the origin's page does not depend on them. */
const OWN_COOKIES = new Set(['sw_session', 'sw_profile']);

/**
 * Fetches the page from `origin` (same path and query), or the request itself,
 * without Slotwise's per-visitor cookies (so the origin page stays cacheable).
 */
function fetchOrigin(request, origin, fetchImpl = fetch) {
  let upstream = request;
  if (origin) {
    const from = new URL(request.url);
    upstream = new Request(new URL(from.pathname + from.search, origin), request);
  }
  // Redirects reach the browser as the origin sent them (its URL bar must follow).
  const init = { redirect: 'manual' };
  const cookie = request.headers.get('cookie');
  if (cookie) {
    const kept = cookie
      .split(';')
      .filter((part) => !OWN_COOKIES.has(part.slice(0, part.indexOf('=')).trim()))
      .join(';');
    if (kept.length !== cookie.length) {
      // The request's headers but these cookies (fetch makes its request from both).
      init.headers = new Headers(request.headers);
      if (kept.trim()) init.headers.set('cookie', kept.trim());
      else init.headers.delete('cookie');
    }
  }
  return fetchImpl(upstream, init);
}

/**
 * The personalized response's Cache-Control: `private`, with the origin's
 * `max-age`, `no-cache`, `no-store` and `must-revalidate` kept (shared-cache
 * directives such as `public` and `s-maxage` dropped).
 */
function privateCacheControl(origin) {
  const kept = (origin ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => /^(max-age=\d+|no-cache|no-store|must-revalidate)$/i.test(d));
  return ['private', ...kept].join(', ');
}

/** The origin's Vary plus `names` (each once, case-insensitively; `*` stays alone). */
function mergeVary(origin, names) {
  const out = (origin ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  if (out.includes('*')) return '*';
  for (const name of names) if (!out.some((v) => v.toLowerCase() === name.toLowerCase())) out.push(name);
  return out.join(', ');
}

/**
 * `response` (normalized: see edge-origin.js) passed on with the reason in the
 * debugging header.
 */
function withReason(response, reason) {
  try {
    const headers = new Headers(response.headers);
    headers.set(REASON_HEADER, `passthrough; reason=${reason}`);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  } catch {
    return response; // immutable or exotic: untouched is always fine
  }
}

const EMPTY = new Uint8Array(0);

/**
 * The first read's buffer: a page up to this size that the origin has sent whole
 * arrives in one read (in workerd every read costs a trip through the event loop,
 * more than rewriting 10 KB).
 */
const READ_BUFFER = 128 * 1024;
/** After the first read, wait for this many bytes per read where the runtime can. */
const READ_AT_LEAST = 32 * 1024;

/**
 * Read buffers a page did not send on (its chunk had a slot: a filled copy went out
 * instead, or it was the empty read at the end), for the next reads of this isolate.
 * A fresh 128 KB buffer per read cost more than deciding a page (zeroed memory, and
 * the garbage collections that external memory brings on).
 */
const spareBuffers = [];
const MAX_SPARE_BUFFERS = 4;

/** `buffer` (detached or not ours: ignored) kept for a later read. */
function recycle(buffer) {
  if (buffer && buffer.byteLength === READ_BUFFER && spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buffer);
}

/**
 * False where the runtime's BYOB readers are known to lack `readAtLeast` (Node):
 * asking for one there costs an exception per page.
 */
const MAY_READ_AT_LEAST =
  typeof ReadableStreamBYOBReader !== 'function' || typeof ReadableStreamBYOBReader.prototype.readAtLeast === 'function';

/**
 * A reader of `body` that gives few, large chunks: every read crosses from the
 * runtime into JS, and in workerd that costs more than rewriting 10 KB. Where the
 * runtime has `readAtLeast` (workerd's BYOB readers) the first read returns what has
 * arrived (up to 128 KB: the whole page, or its head, goes out at once) and later
 * ones wait for 32 KB or the end; elsewhere it reads chunks as they come. Each chunk is a buffer
 * the caller owns; `recyclable` tells whether the caller may hand a chunk's buffer
 * back (`recycle`) once it no longer uses it.
 */
function pageReader(body) {
  let byob = null;
  if (MAY_READ_AT_LEAST) {
    try {
      byob = body.getReader({ mode: 'byob' });
      if (typeof byob.readAtLeast !== 'function') {
        byob.releaseLock();
        byob = null;
      }
    } catch {
      byob = null;
    }
  }
  if (!byob) {
    const reader = body.getReader();
    return { recyclable: false, read: () => reader.read(), cancel: (why) => reader.cancel(why) };
  }
  let first = true;
  return {
    recyclable: true,
    read() {
      const buffer = new Uint8Array(spareBuffers.pop() ?? new ArrayBuffer(READ_BUFFER));
      const min = first ? 1 : READ_AT_LEAST;
      first = false;
      return byob.readAtLeast(min, buffer);
    },
    cancel: (why) => byob.cancel(why),
  };
}

/**
 * The response with the page's slots filled: `respond(page, failed)` makes it from
 * the filled page as a Blob when the origin had sent it whole by the time it was
 * first read (a page from a cache, or any page that came faster than the worker),
 * else from a stream that fills it as it comes (`fillSlots`). Filling a page in hand
 * costs one call into wasm and gives the runtime a body of known length; a stream of
 * our own costs a promise and a trip through the event loop per chunk, both ways
 * (about 0.1 ms a page in workerd). The response waits for the page's first chunk,
 * and for the second until the event loop's next turn (a timer of 0 ms: 1 ms in
 * Node): an origin still sending streams from then on, as before. A failure while
 * filling a page in hand sends the origin's page as it was, with `failed` the reason.
 */
async function filledPage(bindings, body, rewriter, onFailure, tail, respond) {
  const reader = pageReader(body);
  const reads = [reader.read()];
  const first = await settled(reads[0]);
  if (first.value && !first.done) {
    reads.push(reader.read());
    let timer;
    const turn = new Promise((resolve) => {
      timer = setTimeout(resolve, 0);
    });
    const second = await Promise.race([settled(reads[1]), turn]);
    clearTimeout(timer);
    if (second && second.done && !second.error) {
      return fillWhole(bindings, reader, rewriter, onFailure, tail, respond, first.value, second.value);
    }
  }
  const replayed = {
    recyclable: reader.recyclable,
    read: () => reads.shift() ?? reader.read(),
    cancel: (why) => reader.cancel(why),
  };
  return respond(fillSlots(replayed, rewriter, onFailure, tail), null);
}

/** `promise`'s outcome without throwing: its value, or `{ error }`. */
function settled(promise) {
  return promise.then(
    (r) => r,
    (error) => ({ error }),
  );
}

/**
 * The response for the page `first` (and `rest`, read at the end of the stream),
 * filled in one go. The filled bytes are read in place from wasm memory into a Blob
 * before anything else calls into wasm: a Blob holds a copy in every runtime (a
 * Response made from a view might keep the view, and the memory is the next page's).
 */
function fillWhole(bindings, reader, rewriter, onFailure, tail, respond, first, rest) {
  const page = rest && rest.length ? concat(first, rest) : first;
  let filled;
  let failed = null;
  try {
    const at = rewriter.fillAll(page, tail);
    const memory = bindings.wasmMemory().buffer;
    filled = new Blob([new Uint8Array(memory, at + 4, new DataView(memory).getUint32(at, true))]);
  } catch (e) {
    failed = e instanceof WebAssembly.RuntimeError ? 'wasm_trap' : 'internal';
    onFailure(e);
    filled = new Blob([page]);
  } finally {
    try {
      rewriter.free();
    } catch {
      // freed by its FinalizationRegistry otherwise
    }
  }
  if (reader.recyclable) {
    recycle(first.buffer);
    if (rest) recycle(rest.buffer);
  }
  return respond(filled, failed);
}

/**
 * The page with its slots filled, as a stream. The rewriter holds back the last few
 * input bytes (an unfinished tag, `held`); they are kept here too, so when it fails
 * — a trap, anything — they go out raw, followed by the rest of the page untouched:
 * no byte is lost or reordered (only a slot being filled at that moment shows its
 * replacement followed by the rest of its default). `onFailure(error)` is told.
 * `tail` (the decision handoff) follows the page when it was filled to the end.
 */
function fillSlots(reader, rewriter, onFailure, tail = EMPTY) {
  let failed = false;
  let freed = false;
  let pending = EMPTY; // the input bytes the rewriter holds: its last `held` ones
  const free = () => {
    if (freed) return;
    freed = true;
    try {
      rewriter.free();
    } catch {
      // freed by its FinalizationRegistry otherwise
    }
  };
  const giveUp = (controller, e, chunk) => {
    failed = true;
    if (pending.length) controller.enqueue(pending);
    if (chunk && chunk.length) controller.enqueue(chunk);
    pending = EMPTY;
    onFailure(e);
  };
  return new ReadableStream(
    {
      async pull(controller) {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) {
            if (value && value.length) pushChunk(controller, value);
            else if (value && reader.recyclable) recycle(value.buffer);
            if (!failed) {
              try {
                // The rest of the page and the handoff, in one chunk.
                const out = rewriter.end();
                controller.enqueue(out.length ? concat(out, tail) : tail);
              } catch (e) {
                giveUp(controller, e, null);
              }
              free();
            }
            controller.close();
            return;
          }
          if (pushChunk(controller, value)) return;
        }
      },
      cancel(reason) {
        free();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );

  /** Rewrites (or, after a failure, copies) one chunk; true when bytes went out. */
  function pushChunk(controller, chunk) {
    if (failed) {
      controller.enqueue(chunk);
      return true;
    }
    let out;
    let held;
    try {
      // Most chunks come out as they went in (no slot in them): sent as a view of
      // the chunk, not copied out of wasm memory.
      const n = rewriter.feed(chunk);
      out = n >= 0 ? chunk.subarray(0, n) : rewriter.take();
      held = rewriter.held;
    } catch (e) {
      giveUp(controller, e, chunk);
      return true;
    }
    pending = heldTail(pending, chunk, held);
    if (out.buffer !== chunk.buffer && reader.recyclable) {
      // Nothing sent is a view of the chunk: its buffer serves a later read (the
      // held-back bytes copied out of it first).
      if (pending.buffer === chunk.buffer) pending = pending.slice();
      recycle(chunk.buffer);
    }
    if (!out.length) return false;
    controller.enqueue(out);
    return true;
  }
}

/** `a` followed by `b` (either may be empty). */
function concat(a, b) {
  if (!b.length) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * The last `held` bytes of `pending` followed by `chunk`: a view when they are all
 * in `chunk` (each chunk is a buffer of our own, never written again).
 */
function heldTail(pending, chunk, held) {
  if (!held) return EMPTY;
  if (held <= chunk.length) return chunk.subarray(chunk.length - held);
  const before = Math.min(held - chunk.length, pending.length);
  const out = new Uint8Array(before + chunk.length);
  out.set(pending.subarray(pending.length - before));
  out.set(chunk, before);
  return out;
}
