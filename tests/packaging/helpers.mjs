// Shared helpers for the packaging tests: the fixture bundle and a static server.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

export const here = path.dirname(new URL(import.meta.url).pathname);
export const fixtureBytes = () => new Uint8Array(fs.readFileSync(path.join(here, 'fixtures', 'shop.swb')));

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.swb': 'application/octet-stream' };

/** Serves `routes` (url prefix → directory) plus fixed `files` (url → {type, body}) on loopback. */
export async function serve(routes, files = {}) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x').pathname;
    if (files[url]) {
      const f = files[url];
      res.writeHead(f.status ?? 200, { 'content-type': f.type ?? 'application/octet-stream' });
      return res.end(f.body);
    }
    for (const [prefix, dir] of Object.entries(routes)) {
      if (!url.startsWith(prefix)) continue;
      const file = path.join(dir, path.normalize(url.slice(prefix.length)).replace(/^(\.\.[/\\])+/, ''));
      if (file.startsWith(dir) && fs.existsSync(file) && fs.statSync(file).isFile()) {
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
        return res.end(fs.readFileSync(file));
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** What every consumer checks about a decision for the fixture's slots. */
export function checkShopDecisions(assert, d) {
  assert.deepEqual(Object.keys(d).sort(), ['hero', 'nope', 'offer']);
  assert.equal(d.hero.content.id, 'hero-default');
  assert.equal(d.hero.content.title, 'Autumn collection');
  assert.equal(d.hero.reason, 'default');
  assert.match(d.hero.decisionId, /^[0-9a-f]{16}$/);
  assert.notEqual(d.hero.decisionId, d.offer.decisionId);
  assert.equal(d.offer.content.id, 'offer-default');
  assert.equal(d.nope.content, null);
  assert.equal(d.nope.reason, 'unknown_slot');
}
