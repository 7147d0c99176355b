// Types for `slotwise/worker`: the edge handler (workerd, Node, other fetch runtimes).
export { Slotwise, SlotwiseError } from './slotwise.js';

export interface SlotwiseEnv {
  /** The origin to fetch pages from (same path and query); omit to fetch the request itself. */
  SLOTWISE_ORIGIN?: string;
  /** The bundle: bytes from a binding (ArrayBuffer / Uint8Array) or a URL. */
  SLOTWISE_BUNDLE?: ArrayBuffer | Uint8Array | string;
}

export interface HandleOptions {
  origin?: string;
  bundle?: ArrayBuffer | Uint8Array | string | URL;
  fetch?: typeof fetch;
}

/**
 * Fetches the origin page and fills its `data-slotwise-slot` elements while it
 * streams. Any Slotwise failure passes the origin response through untouched, with
 * the reason in the `x-slotwise` header.
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
