// The package's API over a wasm engine. Each entry file (browser.js, node.js,
// workerd.js) passes in its module's bindings and how its runtime instantiates it.

/** An error with a stable machine `code` (e.g. `bundle.truncated`). */
export class SlotwiseError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'SlotwiseError';
    this.code = code;
  }
}

const STRIDE = 4;
const hex8 = (n) => (n >>> 0).toString(16).padStart(8, '0');

/** 64 random bits from the host's crypto, as two u32 (never at module load). */
export function seed() {
  return crypto.getRandomValues(new Uint32Array(2));
}

function asSlotwiseError(e) {
  if (e instanceof SlotwiseError) return e;
  if (e && e.name === 'SlotwiseError') return new SlotwiseError(e.code, e.message, { cause: e });
  return new SlotwiseError('internal', String(e && e.message ? e.message : e), { cause: e });
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

/**
 * @internal The Slotwise class over one wasm module: `wasm` is its wasm-bindgen
 * bindings, `init` instantiates it (once, on the first load).
 */
export function createSlotwise(wasm, init) {
  const { Engine, reasonCode, reasonText } = wasm;
  let initPromise = null;
  const ready = () => (initPromise ??= Promise.resolve().then(init));

  // Reasons the engine knows, read once after init: code and human text by number.
  let reasonCodes = null;
  let reasonTexts = null;
  function loadReasonTables() {
    if (reasonCodes) return;
    reasonCodes = [];
    reasonTexts = new Map();
    for (let n = 0; ; n++) {
      const code = reasonCode(n);
      if (!code) break;
      reasonCodes.push(code);
      reasonTexts.set(code, reasonText(n));
    }
    // Reasons the JS layer adds when there is no engine to ask.
    reasonTexts.set('no_bundle', 'Personalization is unavailable here; this is the page default.');
    reasonTexts.set('bad_slot_name', 'This slot is not personalized.');
  }

  /** The personalization runtime for one page (browser) or one request (edge). */
  return class Slotwise {
    #engine;
    #content = [];

    /** @internal use Slotwise.load */
    constructor(engine, error) {
      this.#engine = engine;
      /** Why the runtime runs without a bundle (slots then keep their defaults), or null. */
      this.error = error;
    }

    /**
     * Loads a bundle. Never rejects unless `strict: true`: without a usable bundle
     * every slot keeps the page's default and `sw.error` says why.
     */
    static async load(options = {}) {
      await ready();
      loadReasonTables();
      try {
        const bytes = await bundleBytes(options.bundle, options.fetch);
        return new Slotwise(Engine.fromBytes(bytes), null);
      } catch (e) {
        const error = asSlotwiseError(e);
        if (options.strict) throw error;
        return new Slotwise(null, error);
      }
    }

    /** The loaded bundle's id, or null. */
    get bundleId() {
      return this.#engine ? this.#engine.bundleId : null;
    }

    /**
     * Decides every requested slot. Returns an object keyed by slot name; each
     * decision has `slot`, `decisionId`, `content` (null: keep the page's markup)
     * and `reason` (a stable code). Never throws for any input.
     */
    decide(request = {}) {
      const slots = Array.isArray(request.slots) ? request.slots : [];
      const out = {};
      const asked = [];
      for (const slot of slots) {
        const name = String(slot);
        if (!this.#engine) out[name] = decision(name, null, null, 'no_bundle');
        else if (name === '' || name.includes(',')) out[name] = decision(name, null, null, 'bad_slot_name');
        else asked.push(name);
      }
      if (asked.length === 0) return out;
      const [hi, lo] = seed();
      const flat = this.#engine.decide(asked.join(','), hi, lo);
      for (let i = 0; i < asked.length; i++) {
        const at = i * STRIDE;
        const contentPlusOne = flat[at];
        out[asked[i]] = decision(
          asked[i],
          hex8(flat[at + 2]) + hex8(flat[at + 3]),
          contentPlusOne === 0 ? null : this.#contentAt(contentPlusOne - 1),
          reasonCodes[flat[at + 1]] ?? 'unknown',
        );
      }
      return out;
    }

    /** "Why am I seeing this": the decision's reason code and a human sentence. */
    explain(decision) {
      const code = decision && decision.reason;
      return { code, text: reasonTexts.get(code) ?? '' };
    }

    /**
     * @internal (edge builds) A streaming rewriter that fills this page's slots, or
     * null when there is no engine or the module has no rewriter.
     */
    pageRewriter() {
      if (!this.#engine || typeof this.#engine.rewritePage !== 'function') return null;
      const [hi, lo] = seed();
      return this.#engine.rewritePage(hi, lo);
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

function decision(slot, decisionId, content, reason) {
  return { slot, decisionId, content, reason };
}
