// The worker bench-baseline.mjs builds once per package (the same as bench-slotwise.mjs's):
// /<mode>?n=N runs N requests of a returning visitor through handle() and returns
// their mean ms; modes pass, cached, small_pass, small_cached.
import { handle } from 'slotwise';
import page from './page.html';
let bundle;
const html = { headers: { 'content-type': 'text/html; charset=utf-8' } };
const origin = async () => new Response(page, html);
const small = '<!doctype html><body>' + ['hero', 'recs', 'offer', 'footer-recs'].map((s) => '<div data-slotwise-slot="' + s + '">d</div>').join('') + '</body>';
const smallOrigin = async () => new Response(small, html);
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const mode = url.pathname.slice(1);
    const n = +url.searchParams.get('n');
    bundle ??= new Uint8Array(env.BUNDLE);
    const options = { fetch: mode.startsWith('small') ? smallOrigin : origin, bundle, keys: env.KEYS, snippetCache: mode !== 'uncached' };
    const visitor = new Request('https://shop.example/p/1', {
      headers: { cookie: env.COOKIE, 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile', 'accept-language': 'en-GB' },
    });
    let header;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (mode === 'pass' || mode === 'small_pass') {
        await (await options.fetch()).arrayBuffer();
      } else {
        const res = await handle(visitor, env, ctx, options);
        await res.arrayBuffer();
        header = res.headers.get('x-slotwise');
      }
    }
    return Response.json({ ms: (performance.now() - t0) / n, header });
  },
};
