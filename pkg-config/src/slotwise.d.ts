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
  /** What to show first; null keeps the page's own markup. */
  readonly content: Content | null;
  /** The items shown, best first (empty: the slot's default content). */
  readonly items: string[];
  /** Stable reason code: "default", "featured", "rule", "pinned", "recommended", "popular",
   * "experiment", "control", "holdout", "capped", "journey", "unknown_slot", "no_bundle", ... */
  readonly reason: string;
  /** The experiment arm, when the slot runs an experiment the visitor is in. */
  readonly variant: { experiment: string; variation: string } | null;
  /** Ids of the slot's rules that matched. */
  readonly rules: string[];
}

export interface ConsentChoice {
  personalization?: boolean;
  measurement?: boolean;
  advertising?: boolean;
  /** An IAB TCF v2.2 TC string. */
  tcf?: string;
  /** Google Consent Mode v2 state: { ad_storage: 'granted' | 'denied', ... }. */
  consentMode?: Record<string, 'granted' | 'denied'>;
  /** Global Privacy Control (default: navigator.globalPrivacyControl). */
  gpc?: boolean;
}

export interface Consent {
  readonly necessary: true;
  readonly personalization: boolean;
  readonly measurement: boolean;
  readonly advertising: boolean;
}

/** Where the session is kept (with personalization consent only). */
export interface SessionStorage {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

export interface LoadOptions {
  /** A URL to fetch, the bundle bytes, or a fetch Response. */
  bundle: string | URL | Uint8Array | ArrayBuffer | Response;
  /** Reject with SlotwiseError instead of running on page defaults. */
  strict?: boolean;
  /** The fetch to use for a URL (defaults to globalThis.fetch). */
  fetch?: typeof fetch;
  /** What the visitor allows (default: only what is necessary). */
  consent?: ConsentChoice;
  /** Session storage (default: localStorage where there is one); null for none. */
  storage?: SessionStorage | null;
  /** Where to send impressions, clicks and conversions (POST /v1/signals), or the
   * SignalQueue options ({ endpoint, flushAfterMs, ... }); omitted: no signals. */
  signals?: string | { endpoint: string; [option: string]: unknown };
  /** The profile snippet token and the keys to verify it with. */
  snippet?: string;
  keys?: Record<string, string>;
  audience?: string;
  /** The site's consent policy: its legal default and IAB vendor id. */
  policy?: { default?: ConsentChoice; vendorId?: number };
  /** The origin's preference centre (default "/v1/preferences"); a URL carrying a
   * signed `token=` (an email link) acts for that link's subject. */
  preferences?: string;
}

/** How often a channel may contact the visitor ("never": that channel's consent is withdrawn). */
export type ContactFrequency = 'any' | 'daily' | 'weekly' | 'monthly' | 'never';

/** The visitor's own choices, per identity cluster. */
export interface Preferences {
  /** Category names never shown, in any channel. */
  mute: string[];
  /** Category names to see more of. */
  more: string[];
  /** Per channel (web, app, email, push, sms, store). */
  contact: Partial<Record<string, ContactFrequency>>;
}

/** The origin's answer to `preferences.get()` / `set()`. */
export interface PreferenceCentre {
  subject: string;
  cluster: string;
  preferences: Preferences;
  /** The bundle's category names (what may be muted or wanted more). */
  categories: string[];
  channels: string[];
  frequencies: ContactFrequency[];
  /** The data-sharing choices as recorded at the origin, or null before any. */
  consent: { personalization: boolean; measurement: boolean; advertising: boolean } | null;
  /** The subject export (GET) and erasure (DELETE) endpoints, with the same credential. */
  links: { export: string; erase: string };
  /** After `set` with the visitor's own id: the next snippet, already in use. */
  snippet?: { token: string; expires_at: number; cluster: string };
}

export interface DecideRequest {
  slots: string[];
  /** The page's attributes that rules read: { path, device, country, ... }. */
  context?: Record<string, unknown>;
}

export interface TrackEvent {
  /** view, search, add_to_cart, remove, purchase, impression, click, or your own. */
  type: string;
  item?: string;
  category?: string;
  /** In the shop's currency (cart value, order value). */
  value?: number;
}

export interface HydrateOptions {
  /** The page attributes rules read; `path` defaults to location.pathname. */
  context?: Record<string, unknown>;
  /**
   * The site's own rendering of a slot (called for every decision, content or not).
   * Return false to let the SDK render `decision.content` (escaped, safe URLs only).
   */
  render?: (element: Element, decision: Decision) => boolean | void;
}

/** The slots `hydrate` filled. */
export interface Hydration {
  /** The latest decision per slot name. */
  readonly decisions: Record<string, Decision>;
  /** Re-decides every slot under the root (e.g. after a client-side navigation). */
  refresh(context?: Record<string, unknown>): Record<string, Decision>;
  /** Stops live updates and click signals. */
  stop(): void;
}

/** The outbound signal queue, for debugging tools. */
export interface SignalQueueView {
  readonly size: { queued: number; pending: number };
  /** Signals with consent to send, waiting for the next batch. */
  readonly queue: ReadonlyArray<Record<string, unknown>>;
  /** Signals waiting for a measurement decision (memory only). */
  readonly pending: ReadonlyArray<Record<string, unknown>>;
}

export declare class SlotwiseError extends Error {
  readonly name: 'SlotwiseError';
  /** Stable machine code, e.g. "bundle.truncated", "bundle.fetch_failed". */
  readonly code: string;
}

/** One visitor's view of a loaded bundle (for servers and edge workers). */
export declare class SlotwiseVisitor {
  readonly id: string | null;
  readonly consent: Consent;
  track(event: TrackEvent): void;
  setConsent(consent: ConsentChoice): { consent: Consent; tcfError: string | null };
  decide(request: DecideRequest): Record<string, Decision>;
  /** Verifies a profile snippet and uses its claims while personalization is allowed. */
  useSnippet(token: string, options?: { keys?: Record<string, string>; audience?: string; now?: number }): Promise<{ ok: boolean; reason: string | null }>;
  /** The session to store (a cookie at the edge); empty without personalization consent. */
  sessionBytes(): Uint8Array;
  /**
   * Releases the visitor's memory in the engine now, e.g. at the end of a server
   * request (otherwise garbage collection does it, later). The handle then decides
   * like one without a bundle.
   */
  free(): void;
}

export declare class Slotwise {
  /** Loads a bundle; without `strict` it never rejects. */
  static load(options: LoadOptions): Promise<Slotwise>;
  /** Why the runtime has no bundle (slots keep their defaults), or null. */
  readonly error: SlotwiseError | null;
  /** The loaded bundle's id, or null. */
  readonly bundleId: string | null;
  /** The site the bundle is for (the audience snippets must name), or null. */
  readonly site: string | null;
  /** The page visitor's consent. */
  readonly consent: Consent;
  /** Records an event for the page's visitor. */
  track(event: TrackEvent): void;
  /** Sets the page visitor's consent; revoking deletes the stored session. */
  setConsent(consent: ConsentChoice): { consent: Consent; tcfError: string | null };
  /** One decision per requested slot, keyed by slot name. Never throws. */
  decide(request: DecideRequest): Record<string, Decision>;
  /** The reason code and a human sentence for "why am I seeing this". */
  explain(decision: Decision): { code: string; text: string };
  /** Records a click on a decision's item (default: its first). */
  click(decision: Decision, itemId?: string): void;
  /** Records a conversion, optionally attributed to a decision. */
  convert(options?: { value?: number; decision?: Decision }): void;
  /** Sends queued signals now (with measurement consent). */
  flush(): Promise<void>;
  /**
   * Calls `callback` after every decision for the page's visitor (for sites that
   * render slots themselves). Returns the unsubscribe function.
   */
  onDecision(callback: (decisions: Record<string, Decision>, request: DecideRequest) => void): () => void;
  /**
   * Decides and fills every `[data-slotwise-slot]` element under `root` (default: the
   * document). A slot whose decision has no content keeps its markup; a `<template>`
   * in the slot with `data-slotwise-field` elements is the site's markup for the
   * content. Each slot then gets `data-slotwise-state` ("decided" | "default"),
   * `data-slotwise-reason` and `data-slotwise-decision` (the no-flicker CSS waits for
   * `data-slotwise-state`). Slots marked `data-slotwise-live` re-decide after each
   * `track` (in-session adaptation without a reload).
   */
  hydrate(root?: ParentNode, options?: HydrateOptions): Hydration;
  /** The page visitor's id (random; stable while the session is stored), or null. */
  readonly visitorId: string | null;
  /** The page's snippet check: `{ ok, reason }`, or null without a snippet. */
  readonly profile: { ok: boolean; reason: string | null } | null;
  /** Verifies and uses a profile snippet for the page's visitor. */
  useSnippet(token: string, options?: { keys?: Record<string, string>; audience?: string }): Promise<{ ok: boolean; reason: string | null }>;
  /**
   * The preference centre: `set` applies mutes on the device at once (hydrated slots
   * re-decide without a reload), stores the change at the origin and switches to the
   * next snippet. Rejects with a SlotwiseError carrying the origin's code.
   */
  readonly preferences: {
    get(): Promise<PreferenceCentre>;
    set(changes: Partial<Preferences>): Promise<PreferenceCentre>;
  };
  /** The outbound signal queue (with `signals`), or null. */
  readonly signalQueue: SignalQueueView | null;
  /** A handle for another visitor on the same bundle. */
  visitor(options?: { session?: Uint8Array; consent?: ConsentChoice; storage?: SessionStorage | null; id?: string }): SlotwiseVisitor;
}
