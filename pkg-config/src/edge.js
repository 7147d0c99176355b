// The edge handler: fetches the origin page and fills its slots while it streams.
// Web-standard APIs only (fetch, Request, Response, TransformStream), so the same
// code runs in workerd and in Node / Deno / other `fetch` runtimes.
//
// Failure isolation: whatever goes wrong on Slotwise's side (no bundle, a bad one, a
// trap in wasm), the origin response goes out untouched, with the reason in the
// `x-slotwise` header. Slotwise never turns an origin 200 into an error.
//
// Per request it reads: consent from the `sw_consent` cookie (granted purposes,
// comma-separated), the IAB `euconsent-v2` cookie and the `Sec-GPC` header; with
// personalization consent, the session from `sw_session` and the profile snippet from
// `sw_profile` (verified against `env.SLOTWISE_KEYS`, JSON `{ kid: public key }`);
// and the page context: path, device class from the user agent, country/region when
// the platform provides them (`request.cf`), language. The updated session goes back
// in `sw_session` (HttpOnly, Secure, SameSite=Lax) only with consent; without it a
// stored session cookie is deleted. Personalized responses are `private`. With
// measurement consent, the page's impressions go to `env.SLOTWISE_SIGNALS` (the
// origin's POST /v1/signals) through `ctx.waitUntil`, after the response.

import { encodeBatch, MEDIA_TYPE } from './signals.js';
import { decisionRecords } from './slotwise.js';

/** The debugging header naming what the worker did with a response. */
export const REASON_HEADER = 'x-slotwise';

/** @internal Builds `handle` and a ready module-worker `handler` over a Slotwise class. */
export function createHandler(Slotwise) {
  let loaded = null; // { source, promise } — one bundle per isolate

  function bundleSource(env, options) {
    return options.bundle ?? env.SLOTWISE_BUNDLE ?? null;
  }

  function load(source) {
    if (!loaded || loaded.source !== source) {
      loaded = { source, promise: Slotwise.load({ bundle: source }) };
    }
    return loaded.promise;
  }

  /**
   * Handles one request: `env.SLOTWISE_ORIGIN` (or `options.origin`) is the origin to
   * fetch pages from (omit it to fetch the request as is), `env.SLOTWISE_BUNDLE` (or
   * `options.bundle`) the bundle: bytes from a binding, or a URL.
   */
  async function handle(request, env = {}, ctx = undefined, options = {}) {
    const upstream = await fetchOrigin(request, options.origin ?? env.SLOTWISE_ORIGIN, options.fetch);
    const skip = notRewritable(request, upstream);
    if (skip) return withReason(upstream, skip);
    const source = bundleSource(env, options);
    if (source == null) return withReason(upstream, 'no_bundle_configured');
    let rewriter;
    let visitor;
    const cookies = parseCookies(request.headers.get('cookie'));
    try {
      const sw = await load(source);
      if (sw.error) return withReason(upstream, sw.error.code);
      const consent = {
        ...grantedPurposes(cookies.sw_consent),
        tcf: cookies['euconsent-v2'],
        gpc: request.headers.get('sec-gpc') === '1',
      };
      const session = cookies.sw_session ? fromBase64url(cookies.sw_session) : null;
      visitor = sw.visitor({ session, consent });
      if (visitor.consent.personalization && cookies.sw_profile) {
        await visitor.useSnippet(cookies.sw_profile, { keys: parseKeys(options.keys ?? env.SLOTWISE_KEYS) });
      }
      rewriter = visitor._pageRewriter(requestContext(request));
      if (!rewriter) return withReason(upstream, 'no_rewriter');
    } catch {
      return withReason(upstream, 'internal');
    }
    const headers = new Headers(upstream.headers);
    headers.delete('content-length'); // the length changes; the runtime streams chunked
    headers.set('cache-control', 'private');
    headers.append('vary', 'Cookie');
    headers.set(REASON_HEADER, 'filled');
    const stored = visitor.sessionBytes(); // empty without personalization consent
    if (stored.length) {
      headers.append('set-cookie', `sw_session=${toBase64url(stored)}; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax`);
    } else if (cookies.sw_session) {
      headers.append('set-cookie', 'sw_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax');
    }
    const signals = options.signals ?? env.SLOTWISE_SIGNALS;
    if (signals && visitor.consent.measurement && ctx && typeof ctx.waitUntil === 'function') {
      // Impressions of what this page shows, sent after the response (never delaying
      // or breaking it): only with measurement consent.
      const batch = impressionBatch(rewriter.decisions, visitor.consent);
      if (batch) {
        ctx.waitUntil(
          (options.fetch ?? fetch)(signals, {
            method: 'POST',
            headers: { 'content-type': MEDIA_TYPE },
            body: batch,
          }).catch(() => {}),
        );
      }
    }
    return new Response(upstream.body.pipeThrough(fillSlots(rewriter)), {
      status: upstream.status,
      statusText: upstream.statusText,
      headers,
    });
  }

  return { handle, handler: { fetch: (request, env, ctx) => handle(request, env, ctx) } };
}

const MAX_COOKIE = 4096;

/** An SWG1 batch of impressions from a page's flat decision records, or null. */
function impressionBatch(flat, consent) {
  const hex8 = (n) => (n >>> 0).toString(16).padStart(8, '0');
  const bits = 1 | (consent.personalization ? 2 : 0) | (consent.measurement ? 4 : 0);
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

function toBase64url(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Coarse page context from the request: nothing that identifies the visitor. */
function requestContext(request) {
  const url = new URL(request.url);
  const ua = request.headers.get('user-agent') ?? '';
  const device = /iPad|Tablet|Android(?!.*Mobile)/i.test(ua) ? 'tablet' : /Mobi|iPhone|Android/i.test(ua) ? 'mobile' : 'desktop';
  const cf = request.cf ?? {};
  const language = (request.headers.get('accept-language') ?? '').split(',')[0].split(';')[0].trim().toLowerCase();
  const context = { path: url.pathname, device };
  if (language) context.language = language;
  if (typeof cf.country === 'string') context.country = cf.country;
  if (typeof cf.region === 'string') context.region = cf.region;
  return context;
}

/** Fetches the page from `origin` (same path and query), or the request itself. */
function fetchOrigin(request, origin, fetchImpl = fetch) {
  if (!origin) return fetchImpl(request);
  const from = new URL(request.url);
  const to = new URL(from.pathname + from.search, origin);
  return fetchImpl(new Request(to, request));
}

/** Why a response is passed through as it is, or null when its slots can be filled. */
function notRewritable(request, response) {
  if (request.method !== 'GET') return 'method';
  if (response.status !== 200) return 'status';
  if (!response.body) return 'no_body';
  const type = (response.headers.get('content-type') ?? '').toLowerCase();
  if (!type.startsWith('text/html')) return 'content_type';
  const encoding = (response.headers.get('content-encoding') ?? 'identity').toLowerCase();
  if (encoding !== 'identity') return 'content_encoding';
  return null;
}

function withReason(response, reason) {
  try {
    const headers = new Headers(response.headers);
    headers.set(REASON_HEADER, `passthrough; reason=${reason}`);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  } catch {
    return response; // immutable or exotic: untouched is always fine
  }
}

/** The stream that fills slots; after a failure it copies the rest untouched. */
function fillSlots(rewriter) {
  let failed = false;
  return new TransformStream({
    transform(chunk, controller) {
      if (!failed) {
        try {
          const out = rewriter.write(chunk);
          if (out.length) controller.enqueue(out);
          return;
        } catch {
          failed = true;
        }
      }
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (failed) return;
      try {
        const out = rewriter.end();
        if (out.length) controller.enqueue(out);
        rewriter.free();
      } catch {
        // The bytes written so far are out; nothing more to add.
      }
    },
  });
}
