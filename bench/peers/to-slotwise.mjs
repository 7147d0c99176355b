// The peer workload (workload.mjs) as a Slotwise authoring directory.
//
//   node to-slotwise.mjs OUT_DIR [--no-experiment]
//
// Run it next to workload.mjs (the bench copies both into target/bench/peers/).
// Mapping, atom by atom (the same conditions GrowthBook's payload uses, in the same
// GrowthBook syntax; only "category views" reads the session the events built):
//   country-in-list  {"country": {"$in": [...]}}       page context attribute
//   device ==        {"device": v}                      page context attribute
//   views >= N       {"session.views.<cat>": {"$gte": N}}  counted from tracked views
//   cart value > X   {"cartValue": {"$gt": X}}          page context attribute
//   version >= th    {"appVersion": {"$vgte": th}}      page context attribute
//   path regex       {"path": {"$regex": re}}           page context attribute
//   tier ==          {"loyaltyTier": v}                 page context attribute
// Each slot is a Priority slot whose candidates are the workload's, in descending
// priority; each candidate has one `include` rule (its atoms ANDed), so it is eligible
// only when they all pass and the slot shows the first eligible one, else its default.
// The hero test is a GrowthBook-hashed experiment on slot-1 (same key, seed, weights,
// hash version and hash attribute as GrowthBook's payload); its alt arms pin the alt
// items. `--no-experiment` leaves the experiment out (the bench uses that bundle to
// check the personalised choice of slot-1 for visitors in an alt arm too).
// The page's category cap is off (0): the workload has no per-category limit.
import fs from 'node:fs';
import path from 'node:path';
import * as W from './workload.mjs';

export function condition(atom, catalog) {
  switch (atom.t) {
    case 'country': return { country: { $in: catalog.countryLists[atom.list] } };
    case 'device': return { device: atom.v };
    case 'cat': return { [`session.views.${atom.cat}`]: { $gte: atom.n } };
    case 'cart': return { cartValue: { $gt: atom.x } };
    case 'ver': return { appVersion: { $vgte: atom.th } };
    case 'path': return { path: { $regex: W.PATH_REGEXES[atom.re] } };
    case 'tier': return { loyaltyTier: atom.v };
  }
  throw new Error(`unknown atom type ${atom.t}`);
}

/** The authoring files, as objects keyed by file name. */
export function toSlotwise(catalog, { experiment = true } = {}) {
  const items = [];
  const content = [];
  const slots = [];
  let k = 0;
  catalog.slots.forEach((cands, s) => {
    const name = W.SLOT_KEYS[s];
    const def = W.DEFAULT_ITEM(s);
    content.push({ id: def, title: `${name} default` });
    const rules = [];
    for (const c of cands) {
      // Categories only feed the session vocabulary (the cap is off); spread the
      // workload's categories over the items so every one of them is known.
      items.push({ id: c.id, category: W.CATEGORIES[k++ % W.CATEGORIES.length] });
      content.push({ id: c.id, title: c.id });
      rules.push({
        id: `r_${c.id}`,
        when: Object.assign({}, ...c.atoms.map((a) => condition(a, catalog))),
        action: 'include',
        items: [c.id],
      });
    }
    const slot = { name, default: def, candidates: cands.map((c) => c.id), rules };
    if (s === 0 && experiment) slot.experiment = W.HERO_TEST;
    slots.push(slot);
  });
  for (const alt of Object.values(W.HERO_ALT_ITEMS)) {
    items.push({ id: alt, category: W.CATEGORIES[0] });
    content.push({ id: alt, title: alt });
  }
  const files = {
    'bundle.json': { site: 'shop.example.com', page: { categoryCap: 0 } },
    'content.json': content,
    'items.json': items,
    'slots.json': slots,
  };
  if (experiment) {
    files['experiments.json'] = [{
      key: W.HERO_TEST,
      seed: W.HERO_TEST,
      hashVersion: 2,
      coverage: 1,
      weights: [0.34, 0.33, 0.33],
      variations: W.HERO_ARMS.map((arm) => (W.HERO_ALT_ITEMS[arm] ? { name: arm, pin: W.HERO_ALT_ITEMS[arm] } : { name: arm })),
    }];
  }
  return files;
}

export function writeSlotwise(outDir, options) {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const files = toSlotwise(W.buildCatalog(), options);
  for (const [name, obj] of Object.entries(files)) {
    fs.writeFileSync(path.join(outDir, name), JSON.stringify(obj, null, 1) + '\n');
  }
  return Object.keys(files);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2];
  if (!out) throw new Error('usage: node to-slotwise.mjs OUT_DIR [--no-experiment]');
  const written = writeSlotwise(out, { experiment: !process.argv.includes('--no-experiment') });
  console.error(`[to-slotwise] wrote ${written.join(', ')} to ${out}`);
}
