// Types for the slotwise package (hand-written; they match src/slotwise.js).

/** Channel-agnostic content from the bundle's content library. */
export interface Content {
  readonly id: string;
  readonly title?: string;
  readonly body?: string;
  readonly image?: string;
  readonly link?: string;
  readonly cta?: string;
  readonly price?: number;
}

/** The outcome for one slot. */
export interface Decision {
  readonly slot: string;
  /** 16 hex digits, unique per page view and slot; null when no engine decided. */
  readonly decisionId: string | null;
  /** What to show; null keeps the page's own markup. */
  readonly content: Content | null;
  /** Stable reason code: "default", "unknown_slot", "no_bundle", ... */
  readonly reason: string;
}

export interface LoadOptions {
  /** A URL to fetch, the bundle bytes, or a fetch Response. */
  bundle: string | URL | Uint8Array | ArrayBuffer | Response;
  /** Reject with SlotwiseError instead of running on page defaults. */
  strict?: boolean;
  /** The fetch to use for a URL (defaults to globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface DecideRequest {
  slots: string[];
}

export declare class SlotwiseError extends Error {
  readonly name: 'SlotwiseError';
  /** Stable machine code, e.g. "bundle.truncated", "bundle.fetch_failed". */
  readonly code: string;
}

export declare class Slotwise {
  /** Loads a bundle; without `strict` it never rejects. */
  static load(options: LoadOptions): Promise<Slotwise>;
  /** Why the runtime has no bundle (slots keep their defaults), or null. */
  readonly error: SlotwiseError | null;
  /** The loaded bundle's id, or null. */
  readonly bundleId: string | null;
  /** One decision per requested slot, keyed by slot name. Never throws. */
  decide(request: DecideRequest): Record<string, Decision>;
  /** The reason code and a human sentence for "why am I seeing this". */
  explain(decision: Decision): { code: string; text: string };
}
