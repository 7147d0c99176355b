// The hand-written TypeScript declarations name exactly the runtime's public API:
// every method and getter of Slotwise (and SlotwiseVisitor) in the installed package.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = () => path.join(process.env.PACKAGING_DIR ?? assert.fail('PACKAGING_DIR is not set'), 'node_modules', 'slotwise');

/** Member names declared in `export declare class <name> { ... }`. */
function declared(source, name) {
  const start = source.indexOf(`export declare class ${name} `);
  assert.ok(start >= 0, `${name} is declared`);
  const body = source.slice(source.indexOf('{', start) + 1, source.indexOf('\n}', start));
  const names = new Set();
  for (const line of body.split('\n')) {
    const m = /^ {2}(?:static |readonly )*([A-Za-z_]\w*)[(?:<]/.exec(line);
    if (m && !line.trimStart().startsWith('static')) names.add(m[1]);
  }
  return [...names].sort();
}

const runtime = (cls) => {
  const names = new Set();
  for (let p = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && !n.startsWith('_')) names.add(n);
  }
  return names;
};

test('slotwise.d.ts declares what the runtime has', async () => {
  const dts = fs.readFileSync(path.join(pkg(), 'slotwise.d.ts'), 'utf8');
  const { Slotwise } = await import(pathToFileURL(path.join(pkg(), 'node.js')));
  // Instance fields (error, bundleId and site set when constructed, profile by load) are
  // declared too; methods and getters must match.
  const fields = new Set(['error', 'profile', 'bundleId', 'site']);
  const swDeclared = declared(dts, 'Slotwise').filter((n) => !fields.has(n));
  assert.deepEqual(swDeclared, [...runtime(Slotwise)].sort());
  const sw = await Slotwise.load({ bundle: new Uint8Array(0) });
  for (const f of fields) assert.ok(f in sw, f);
  assert.deepEqual(declared(dts, 'SlotwiseVisitor'), [...runtime({ prototype: Object.getPrototypeOf(sw.visitor()) })].sort());
});
