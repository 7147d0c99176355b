// The variant cache: personalized pages the edge cache can share.
//
// A visitor whose page cannot depend on their own history — no stored session read,
// no profile snippet in use (no consent, or none yet) — gets decisions that depend
// only on the request's coarse context (URL, device class, country, region,
// language) and on their experiment variants and holdout membership. Those make the
// variant key (SHA-256); the decisions are made with a seed derived from it, so every
// visitor with the same key gets the same page, byte for byte, and the edge cache
// (the Cache API: `caches.default` in workerd) serves it after the first. Per page
// URL a bundle produces at most 3 device classes × Π (variations of each experiment)
// × 2 (holdout) × 2 (impressions sent or not) keys, times the country / region /
// language values visitors come with (`slotwise bundle build` prints the bundle's
// part). Visitors with history get a `private` page, never cached.
//
// Opt in with `SLOTWISE_VARIANT_CACHE_TTL` (seconds a cached page is served) or the
// handler option `variantCacheTtl`; `options.cache` replaces `caches.default`.
// The cached copy has no cookie; each visitor's own `Set-Cookie` and impressions are
// added per request (`x-slotwise: filled; cache=hit|miss`).

import { decisionRecords } from './slotwise.js';

/** The cache to use (null: the variant cache is off). */
export function variantCache(env, options) {
  if (!(variantTtl(env, options) > 0)) return null;
  return options.cache ?? globalThis.caches?.default ?? null;
}

/** Seconds a cached page is served. */
export function variantTtl(env, options) {
  return Number(options.variantCacheTtl ?? env.SLOTWISE_VARIANT_CACHE_TTL ?? 0);
}

/**
 * The variant key of a request: `{ request, seed, hex }` — the Cache API key, the
 * decision seed `[hi, lo]` derived from it. The visitor's variants come from one
 * decision of the page (experiments hash the visitor id, not the seed).
 */
export async function variantKey(sw, visitor, request, context, sends) {
  const probe = visitor._pageRewriter(context);
  const variants = [];
  if (probe) {
    for (const r of decisionRecords(probe.decisions)) variants.push(`${r.exp}.${r.variation}.${r.reason === 2 ? 'h' : ''}`);
    probe.free();
  }
  const url = new URL(request.url);
  const text = [sw.bundleId, url.pathname + url.search, context.device, context.country ?? '', context.region ?? '', context.language ?? '', sends ? 1 : 0, variants.join(',')].join('|');
  const digest = new Uint32Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  const hex = Array.from(digest.subarray(0, 4), (n) => n.toString(16).padStart(8, '0')).join('');
  return { request: new Request(new URL(`/__slotwise/variant/${hex}`, url)), seed: [digest[0], digest[1]], hex };
}

/** The filled page as the cache keeps it: no cookie, shareable for `ttl` seconds. */
export function forCache(body, status, headers, ttl) {
  const kept = new Headers(headers);
  kept.delete('set-cookie');
  kept.delete('x-slotwise');
  kept.set('x-slotwise-cache-control', headers.get('cache-control') ?? 'private');
  kept.set('cache-control', `public, max-age=${Math.floor(ttl)}`);
  return new Response(body, { status, headers: kept });
}

/** The headers of a cached page as a visitor gets them (`private` again). */
export function fromCache(cachedHeaders) {
  const headers = new Headers(cachedHeaders);
  headers.set('cache-control', headers.get('x-slotwise-cache-control') ?? 'private');
  headers.delete('x-slotwise-cache-control');
  return headers;
}
