// The edge handler's streaming fill, whatever the chunks the origin's body comes in:
// the page cut into two chunks at every byte (so every slot marker, tag, comment and
// raw-text end is split at every point), into three, and into single bytes, must
// come out exactly as the unsplit page does. Chunks without a slot in them take the
// pass-through path (sent as views of the input, not copied out of wasm); chunks
// with one are rewritten; these tests cross that line at every position.
import test from 'node:test';
import assert from 'node:assert/strict';
import { handle } from 'slotwise/worker';
import { fixtureBytes } from './helpers.mjs';
import { bare, FILLED, ORIGINAL } from './edge-helpers.mjs';

const BYTES = new TextEncoder().encode(ORIGINAL);

/** The handler's origin: the page in exactly these byte `chunks` (a stream made here). */
const chunkedFetch = (chunks) => async () => {
  const left = chunks.map((c) => c.slice());
  const body = new ReadableStream({
    pull(controller) {
      if (left.length) controller.enqueue(left.shift());
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/html; charset=utf-8' } });
};

const bundle = fixtureBytes();

async function filled(chunks) {
  const res = await handle(new Request('https://shop.example/'), {}, undefined, { fetch: chunkedFetch(chunks), bundle });
  assert.equal(res.headers.get('x-slotwise'), 'filled');
  return res.text().then(bare);
}

test('the page cut in two at every byte fills the same', async () => {
  assert.equal(await filled([BYTES]), FILLED);
  for (let at = 0; at <= BYTES.length; at++) {
    assert.equal(await filled([BYTES.subarray(0, at), BYTES.subarray(at)]), FILLED, `cut at ${at}`);
  }
});

test('the page cut in three around each slot marker, and in single bytes, fills the same', async () => {
  for (const marker of ['data-slotwise-slot="hero"', "data-slotwise-slot='offer'", 'data-slotwise-slot=recs', '</aside>', '<!--', '</script>']) {
    const at = ORIGINAL.indexOf(marker);
    const start = new TextEncoder().encode(ORIGINAL.slice(0, at)).length;
    for (let a = start - 4; a <= start + marker.length + 4; a++) {
      for (let b = a; b <= start + marker.length + 8; b += 3) {
        const chunks = [BYTES.subarray(0, a), BYTES.subarray(a, b), BYTES.subarray(b)];
        assert.equal(await filled(chunks), FILLED, `${marker}: cuts at ${a}, ${b}`);
      }
    }
  }
  const single = Array.from(BYTES, (b) => Uint8Array.of(b));
  assert.equal(await filled(single), FILLED);
});

test('workerd: many pages filled at once, read in turns, each whole (read buffers are reused)', async () => {
  const { startWorker } = await import('./helpers.mjs');
  const { mf } = await startWorker('edge-recycle-worker.mjs');
  try {
    // Pages large and small, with their slots early or late, each with its own filler.
    const variant = (html, n) => {
      const filler = `<p class="f${n}">${String(n).repeat([10, 40_000, 150_000][n % 3])}</p>`;
      return n % 2 ? html.replace('<body>', `<body>${filler}`) : html.replace('</body>', `${filler}</body>`);
    };
    const pages = [0, 1, 2, 3, 4, 5].map((n) => variant(ORIGINAL, n));
    const res = await mf.dispatchFetch('https://shop.example/', { method: 'POST', body: JSON.stringify({ pages, rounds: 4 }) });
    assert.equal(res.status, 200, await res.clone().text());
    const rounds = await res.json();
    assert.equal(rounds.length, 4);
    for (const texts of rounds) {
      texts.forEach((text, n) => assert.ok(bare(text) === variant(FILLED, n), `page ${n}: ${text.length} bytes, not the filled page`));
    }
  } finally {
    await mf.dispose();
  }
});
