// The edge handler: fetches the origin page and fills its slots while it streams.
// Web-standard APIs only (fetch, Request, Response, TransformStream), so the same
// code runs in workerd and in Node / Deno / other `fetch` runtimes.
//
// Failure isolation: whatever goes wrong on Slotwise's side (no bundle, a bad one, a
// trap in wasm), the origin response goes out untouched, with the reason in the
// `x-slotwise` header. Slotwise never turns an origin 200 into an error.

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
    try {
      const sw = await load(source);
      if (sw.error) return withReason(upstream, sw.error.code);
      rewriter = sw.pageRewriter();
      if (!rewriter) return withReason(upstream, 'no_rewriter');
    } catch {
      return withReason(upstream, 'internal');
    }
    const headers = new Headers(upstream.headers);
    headers.delete('content-length'); // the length changes; the runtime streams chunked
    headers.set('cache-control', 'private');
    headers.set(REASON_HEADER, 'filled');
    return new Response(upstream.body.pipeThrough(fillSlots(rewriter)), {
      status: upstream.status,
      statusText: upstream.statusText,
      headers,
    });
  }

  return { handle, handler: { fetch: (request, env, ctx) => handle(request, env, ctx) } };
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
