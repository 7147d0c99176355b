// Types for `slotwise/worker`: the edge handler (workerd, Node, other fetch runtimes).
export { Slotwise, SlotwiseError } from './slotwise.js';

/** A KV namespace binding (only `get` is used). */
export interface KVNamespaceLike {
  get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
}

/** A Fetcher binding: static assets or a service. */
export interface FetcherLike {
  fetch(input: Request | string, init?: RequestInit): Promise<Response>;
}

/** Where the bundle comes from. */
export type BundleSource = ArrayBuffer | Uint8Array | string | URL | KVNamespaceLike | FetcherLike;

export interface SlotwiseEnv {
  /** The origin to fetch pages from (same path and query); omit to fetch the request itself. */
  SLOTWISE_ORIGIN?: string;
  /**
   * The bundle: bytes (a Data module or binding), a URL (the origin's `/v1/bundle`,
   * revalidated with its ETag), a static-assets / service binding (see
   * `SLOTWISE_BUNDLE_PATH`) or a KV namespace (see `SLOTWISE_BUNDLE_KEY`).
   */
  SLOTWISE_BUNDLE?: BundleSource;
  /** Seconds a loaded bundle is used before it is revalidated in the background (default 60). */
  SLOTWISE_BUNDLE_TTL?: string | number;
  /** The path asked of a Fetcher binding (default `/slotwise/bundle.swb`). */
  SLOTWISE_BUNDLE_PATH?: string;
  /** The key read from a KV namespace (default `bundle`). */
  SLOTWISE_BUNDLE_KEY?: string;
  /** Snippet verification keys: JSON `{ "kid": "base64url public key" }`. */
  SLOTWISE_KEYS?: string | Record<string, string>;
  /** The audience snippets must name (default: the bundle's site). */
  SLOTWISE_AUDIENCE?: string;
  /** The origin's `POST /v1/signals`: impressions go there, with measurement consent. */
  SLOTWISE_SIGNALS?: string;
  /**
   * Seconds the edge cache serves a personalized page to visitors without history in
   * the same variant and context (edge-cache.js); unset or 0: off.
   */
  SLOTWISE_VARIANT_CACHE_TTL?: string | number;
}

export interface HandleOptions {
  origin?: string;
  bundle?: BundleSource;
  bundleTtl?: number;
  bundlePath?: string;
  bundleKey?: string;
  keys?: string | Record<string, string>;
  audience?: string;
  signals?: string;
  /** The fetch used for the origin page, the bundle URL and signals (default: global fetch). */
  fetch?: typeof fetch;
  /** `false`: verify every snippet (default: verified snippets are cached per isolate until they expire). */
  snippetCache?: boolean;
  /** As `SLOTWISE_VARIANT_CACHE_TTL`. */
  variantCacheTtl?: number;
  /** The variant cache (default `caches.default` where there is one): Cache API `match` / `put`. */
  cache?: { match(request: Request): Promise<Response | undefined>; put(request: Request, response: Response): Promise<void> };
}

/**
 * Fetches the origin page and fills its `data-slotwise-slot` elements while it
 * streams. Any Slotwise failure passes the origin response through untouched, with
 * the reason in the `x-slotwise` header (`passthrough; reason=...`); a filled page
 * says `filled` (with `snippet=...` / `session=...` notes).
 */
export declare function handle(
  request: Request,
  env?: SlotwiseEnv,
  ctx?: { waitUntil(p: Promise<unknown>): void },
  options?: HandleOptions,
): Promise<Response>;

/** A ready module worker: `export default handler`. */
export declare const handler: {
  fetch(request: Request, env: SlotwiseEnv, ctx: unknown): Promise<Response>;
};
