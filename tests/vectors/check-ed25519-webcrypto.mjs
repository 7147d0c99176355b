// Replays tests/vectors/ed25519.json through WebCrypto (Node 20+): every case must agree.
// Run: node tests/vectors/check-ed25519-webcrypto.mjs
import { readFileSync } from "node:fs";
const v = JSON.parse(readFileSync(new URL("./ed25519.json", import.meta.url)));
const hex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
for (const c of v.cases) {
  const key = await crypto.subtle.importKey("raw", hex(c.public_key), { name: "Ed25519" }, false, ["verify"]);
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, hex(c.signature), hex(c.message));
  console.log(ok === c.valid ? "agree" : "DISAGREE", c.name);
  if (ok !== c.valid) process.exitCode = 1;
}
