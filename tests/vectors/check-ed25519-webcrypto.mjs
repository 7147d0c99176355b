// Replays the shared Ed25519 vectors through WebCrypto (Node 20+, workerd and browsers
// have the same API): every case must agree with the native implementation.
// - ed25519.json: raw (public key, message, signature) cases, RFC 8032 and malformed;
// - snippets.json: SWP1 tokens; for each case with signature_valid, verify
//   message = token bytes without the last 64 and signature = the last 64 with key `kid`.
// Run: node tests/vectors/check-ed25519-webcrypto.mjs
import { readFileSync } from "node:fs";

const load = (name) => JSON.parse(readFileSync(new URL(`./${name}`, import.meta.url)));
const hex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const b64url = (s) => new Uint8Array(Buffer.from(s, "base64url"));

async function verify(publicKey, signature, message) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

let failures = 0;
function report(ok, expected, name) {
  console.log(ok === expected ? "agree" : "DISAGREE", name);
  if (ok !== expected) failures++;
}

for (const c of load("ed25519.json").cases) {
  const ok = await verify(hex(c.public_key), hex(c.signature), hex(c.message));
  report(ok, c.valid, c.name);
}

const snippets = load("snippets.json");
const ring = new Map(snippets.keys.map((k) => [k.kid, b64url(k.public)]));
for (const c of snippets.cases) {
  if (c.signature_valid === null) continue;
  const bytes = b64url(c.token);
  const ok = await verify(ring.get(c.kid), bytes.subarray(bytes.length - 64), bytes.subarray(0, bytes.length - 64));
  report(ok, c.signature_valid, `snippet: ${c.name}`);
}
process.exitCode = failures ? 1 : 0;
