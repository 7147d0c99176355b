// Verified profile snippets, kept per isolate so a returning visitor's snippet is
// verified once, not on every page: keyed by the token, bounded (least recently
// used goes first), each kept only until the snippet's own expiry. The cache belongs
// to one wasm instance, one key ring and one audience; any change empties it.

import { verifySnippet } from './slotwise.js';

const DEFAULT_LIMIT = 512;

export class SnippetCache {
  #entries = new Map(); // token → { snippet, expiresAt }
  #owner = null; // { bindings, keys, audience } the entries were verified for
  #limit;

  constructor(limit = DEFAULT_LIMIT) {
    this.#limit = limit;
  }

  /** How many verified snippets are kept. */
  get size() {
    return this.#entries.size;
  }

  /**
   * Gives `visitor` (a wasm `Visitor` of `bindings`) the claims of `token`, verified
   * now or earlier: resolves to `true` when taken from the cache. Rejects like
   * `verifySnippet` (a `SlotwiseError` with the reason) for a snippet that fails.
   * The snippet is set on the visitor synchronously after the lookup, so an entry
   * evicted (and freed) by a concurrent request is never used.
   */
  async use(bindings, visitor, token, keys, audience, now) {
    this.#own(bindings, keys, audience);
    const owner = this.#owner;
    const hit = this.#entries.get(token);
    if (hit) {
      this.#entries.delete(token);
      if (now <= hit.expiresAt) {
        this.#entries.set(token, hit);
        visitor.setProfile(hit.snippet);
        return true;
      }
      hit.snippet.free();
    }
    const snippet = await verifySnippet(bindings, token, keys, audience, now);
    visitor.setProfile(snippet);
    if (this.#owner !== owner || this.#entries.has(token)) {
      snippet.free();
      return false;
    }
    this.#entries.set(token, { snippet, expiresAt: snippet.expiresAt });
    while (this.#entries.size > this.#limit) {
      const [oldest, entry] = this.#entries.entries().next().value;
      this.#entries.delete(oldest);
      entry.snippet.free();
    }
    return false;
  }

  /** Forgets every entry (their wasm instance was replaced: they are not freed into it). */
  clear() {
    this.#entries = new Map();
    this.#owner = null;
  }

  #own(bindings, keys, audience) {
    const o = this.#owner;
    if (o && o.bindings === bindings && o.keys === keys && o.audience === audience) return;
    if (o && o.bindings === bindings) for (const { snippet } of this.#entries.values()) snippet.free();
    this.#entries = new Map();
    this.#owner = { bindings, keys, audience };
  }
}
