// A module worker for edge-chunks.test.mjs: fills many pages at once through
// `handle`, their bodies read in turns, so read buffers the handler takes back
// (see `recycle` in edge.js) serve other pages while earlier ones are still being
// read. Every page's origin is a native body (`new Response(text)`), read through
// workerd's BYOB reader as a fetched page is; pages differ in their filler.
import { handle } from 'slotwise/worker';
import bundle from './fixtures/shop.swb';

export default {
  async fetch(request) {
    const { pages, rounds } = await request.json();
    const html = { headers: { 'content-type': 'text/html; charset=utf-8' } };
    const out = [];
    for (let round = 0; round < rounds; round++) {
      const responses = await Promise.all(
        pages.map((page) => handle(new Request('https://shop.example/'), {}, undefined, { fetch: async () => new Response(page, html), bundle: new Uint8Array(bundle) })),
      );
      // Read every body a chunk at a time, in turns.
      const readers = responses.map((r) => r.body.getReader());
      const texts = responses.map(() => []);
      let open = readers.length;
      while (open) {
        open = 0;
        for (const [i, reader] of readers.entries()) {
          if (!reader) continue;
          const { value, done } = await reader.read();
          if (done) readers[i] = null;
          else {
            texts[i].push(value); // kept as given: a buffer reused too early would show
            open++;
          }
        }
      }
      out.push(texts.map((chunks) => new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])))));
    }
    return Response.json(out);
  },
};
