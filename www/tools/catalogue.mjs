// The demo shop's catalogue, generated: products, their SVG pictures, the authoring
// items and content they become in the bundle, and synthetic browsing sessions the
// trainer learns "what goes with what" from. Nothing here is scraped: names are
// written below, prices, colours and pictures are derived from them deterministically.
//
//   node www/tools/catalogue.mjs           writes the files (www/catalogue.js, www/img/,
//                                          www/authoring/{items,content}.json,
//                                          www/training/sessions.tsv)
//   node www/tools/catalogue.mjs --check   fails when a committed file differs
import fs from 'node:fs';
import path from 'node:path';

const WWW = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** Categories: id, name, the picture's shape, a line for the category page. */
export const CATEGORIES = [
  { id: 'running-shoes', name: 'Running shoes', shape: 'shoe', blurb: 'Road and trail runners, from easy miles to race day.' },
  { id: 'hiking-boots', name: 'Hiking boots', shape: 'boot', blurb: 'Waterproof, supportive, broken in on day one.' },
  { id: 'jackets', name: 'Jackets', shape: 'jacket', blurb: 'Shells, puffers and windbreakers for every forecast.' },
  { id: 'backpacks', name: 'Backpacks', shape: 'pack', blurb: 'Day packs to multi-day haulers, fitted to your back.' },
  { id: 'camping', name: 'Camping', shape: 'tent', blurb: 'Tents and shelters that pitch in minutes.' },
  { id: 'accessories', name: 'Accessories', shape: 'bottle', blurb: 'Bottles, flasks and the small things that matter.' },
];

const NAMES = {
  'running-shoes': ['Ridge Trail Runner', 'Tempo Road Shoe', 'Cadence Daily Trainer', 'Vapor Race Flat', 'Summit Trail Pro', 'Drift Recovery Shoe'],
  'hiking-boots': ['Granite Mid GTX', 'Alpine Trek Boot', 'Canyon Lightweight Hiker', 'Moraine Winter Boot', 'Pathfinder Low', 'Scree Approach Shoe'],
  jackets: ['Storm Shell Jacket', 'Ember Down Puffer', 'Breeze Wind Jacket', 'Cirrus Rain Jacket', 'Fjord Insulated Parka', 'Tailwind Running Vest'],
  backpacks: ['Day Pack 20 L', 'Trail Pack 28 L', 'Summit Pack 45 L', 'Hydration Vest 12 L', 'Commuter Pack 22 L', 'Expedition Pack 65 L'],
  camping: ['Dome Tent 2P', 'Ultralight Tent 1P', 'Family Tent 4P', 'Bivy Shelter', 'Trekking Tarp', 'Basecamp Tent 3P'],
  accessories: ['Insulated Bottle 750 ml', 'Soft Flask 500 ml', 'Trail Socks (3 pairs)', 'Running Cap', 'Merino Beanie', 'Steel Mug 350 ml'],
};
const BASE_PRICE = { 'running-shoes': 109, 'hiking-boots': 149, jackets: 129, backpacks: 69, camping: 179, accessories: 19 };
const COLOURS = [
  ['Ember', '#e4572e'], ['Glacier', '#3a86ff'], ['Moss', '#5c946e'], ['Slate', '#4a5568'],
  ['Sunrise', '#f3a712'], ['Berry', '#b5179e'], ['Fjord', '#168aad'], ['Sand', '#c9a66b'],
];
const BLURB = {
  'running-shoes': 'Responsive cushioning and a breathable upper for',
  'hiking-boots': 'A grippy outsole and a supportive ankle for',
  jackets: 'Light, packable protection for',
  backpacks: 'A ventilated back panel and smart pockets for',
  camping: 'Quick to pitch and sturdy in the wind for',
  accessories: 'Small, tough and trail-tested for',
};
const USES = ['long weekends outside', 'early morning miles', 'wet and windy days', 'your next adventure', 'everyday trails', 'fast and light outings'];

/** A small deterministic hash (FNV-1a) for stable choices. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Every product: id, name, category, price, colour, blurb, image, rating. */
export function products() {
  const out = [];
  for (const c of CATEGORIES) {
    NAMES[c.id].forEach((name, i) => {
      const h = hash(name);
      const [colourName, colour] = COLOURS[h % COLOURS.length];
      const id = `${c.id.split('-')[0]}-${i + 1}`;
      out.push({
        id,
        name,
        category: c.id,
        price: BASE_PRICE[c.id] + (h % 9) * (c.id === 'accessories' ? 2 : 10),
        colourName,
        colour,
        rating: 3.8 + ((h >>> 8) % 12) / 10,
        reviews: 12 + ((h >>> 12) % 240),
        blurb: `${BLURB[c.id]} ${USES[(h >>> 4) % USES.length]}.`,
        image: `/img/${id}.svg`,
      });
    });
  }
  return out;
}

/** Hero and offer campaigns: content with their own banner, shown by rules. */
export const CAMPAIGNS = [
  { id: 'hero-default', title: 'The autumn collection is here', body: 'New season, new trails: layers, boots and packs for shorter days.', link: '/c/jackets', cta: 'Shop the collection', scene: 'autumn' },
  { id: 'hero-running', title: 'Find your next running shoe', body: 'Road or trail, easy miles or race day: our runners, side by side.', link: '/c/running-shoes', cta: 'Shop running shoes', scene: 'road' },
  { id: 'hero-hiking', title: 'Boots for the long way round', body: 'Waterproof hikers broken in on day one.', link: '/c/hiking-boots', cta: 'Shop hiking boots', scene: 'peaks' },
  { id: 'hero-rain', title: 'Rain is just weather', body: 'Shells and rain jackets that breathe on the climb.', link: '/c/jackets', cta: 'Shop rain jackets', scene: 'rain' },
  { id: 'hero-camping', title: 'Sleep under the stars', body: 'Tents that pitch in minutes, for one or for four.', link: '/c/camping', cta: 'Shop tents', scene: 'night' },
];
const OFFERS = [
  { id: 'offer-default', title: 'Free returns for 60 days', body: 'On every order, no questions asked.' },
  { id: 'offer-shipping', title: 'Free express shipping on this order', body: 'Your cart qualifies: it ships today if you order before 3 pm.' },
  { id: 'offer-runners', title: '10% off your second pair of running shoes', body: 'Use code SECONDPAIR at checkout.' },
];
const RECS_DEFAULT = { id: 'recs-default', title: 'Bestsellers', body: 'What other visitors are buying this week.', link: '/c/running-shoes' };

// ---- pictures ----
const shade = (hex, f) => {
  const n = parseInt(hex.slice(1), 16);
  const ch = (s) => Math.max(0, Math.min(255, Math.round(((n >> s) & 255) * f)));
  return `#${((ch(16) << 16) | (ch(8) << 8) | ch(0)).toString(16).padStart(6, '0')}`;
};
const SHAPES = {
  shoe: (c, d) => `<path d="M62 196c0-28 18-46 48-46h58c20-30 40-44 66-44h18c10 20 32 34 66 42 30 7 42 24 42 46v8c0 10-8 16-20 16H78c-10 0-16-8-16-22z" fill="${c}"/>
<path d="M60 206h300v4c0 10-8 16-20 16H76c-10 0-16-8-16-20z" fill="#f4f1ea"/><path d="M60 214h300" stroke="${d}" stroke-width="4"/>
<path d="M120 186c60-6 120-26 170-20" stroke="#fff" stroke-width="10" fill="none" stroke-linecap="round" opacity=".85"/>
<path d="M236 118l14 10M228 128l14 10M220 138l14 10" stroke="${d}" stroke-width="5" stroke-linecap="round"/>`,
  boot: (c, d) => `<path d="M96 214V92c0-14 10-22 24-22h78c12 0 18 8 18 20v50c40 6 80 18 110 34 22 12 30 26 30 40v6H96z" fill="${c}"/>
<path d="M92 208h264v10c0 10-8 14-18 14H108c-10 0-16-6-16-14z" fill="#3b3b3b"/><path d="M100 232l10-8 10 8 10-8 10 8 10-8 10 8 10-8 10 8 10-8 10 8 10-8 10 8 10-8 10 8 10-8 10 8 10-8 10 8" stroke="#3b3b3b" stroke-width="6" fill="none"/>
<path d="M150 96h40M150 114h40M150 132h40M160 150h40" stroke="${d}" stroke-width="6" stroke-linecap="round"/><rect x="96" y="180" width="120" height="10" fill="${d}" opacity=".5"/>`,
  jacket: (c, d) => `<path d="M150 62l30-10c8 14 32 14 40 0l30 10 56 44-22 116-30-8V246H146V214l-30 8-22-116z" fill="${c}"/>
<path d="M180 52c6 22 34 22 40 0" stroke="${d}" stroke-width="8" fill="none"/><path d="M200 66v180" stroke="${d}" stroke-width="5"/>
<path d="M160 150h26M214 150h26" stroke="${d}" stroke-width="5" stroke-linecap="round"/><path d="M146 214V110M254 214V110" stroke="${d}" stroke-width="3" opacity=".5"/>`,
  pack: (c, d) => `<path d="M170 70c0-22 60-22 60 0" stroke="${d}" stroke-width="10" fill="none"/><rect x="128" y="66" width="144" height="186" rx="44" fill="${c}"/>
<rect x="150" y="150" width="100" height="80" rx="22" fill="${d}"/><path d="M164 176h72" stroke="#fff" stroke-width="4" opacity=".7"/>
<rect x="140" y="100" width="120" height="16" rx="8" fill="${d}" opacity=".6"/>`,
  tent: (c, d) => `<path d="M70 236L200 70l130 166z" fill="${c}"/><path d="M200 70l-40 166h80z" fill="${d}"/><path d="M200 120l-22 116h44z" fill="#1f2937" opacity=".55"/>
<path d="M40 238h320" stroke="#6b7280" stroke-width="6" stroke-linecap="round"/><path d="M200 70V50" stroke="${d}" stroke-width="5"/>`,
  bottle: (c, d) => `<rect x="172" y="52" width="56" height="30" rx="8" fill="${d}"/><rect x="150" y="78" width="100" height="172" rx="30" fill="${c}"/>
<rect x="150" y="130" width="100" height="44" fill="${d}" opacity=".45"/><path d="M168 96v130" stroke="#fff" stroke-width="8" stroke-linecap="round" opacity=".45"/>`,
};

function productSvg(p, shape) {
  const bg = shade(p.colour, 1.9);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" role="img" aria-label="${p.name}">
<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#fbfaf7"/><stop offset="1" stop-color="${bg}" stop-opacity=".55"/></linearGradient></defs>
<rect width="400" height="300" fill="url(#bg)"/><ellipse cx="210" cy="252" rx="150" ry="14" fill="#000" opacity=".08"/>
${SHAPES[shape](p.colour, shade(p.colour, 0.6))}
</svg>
`;
}

const SCENES = {
  autumn: ['#f7b267', '#f4845f', '#7f5539', '#b08968'],
  road: ['#a0c4ff', '#5e60ce', '#374151', '#9ca3af'],
  peaks: ['#bde0fe', '#457b9d', '#1d3557', '#e9f5ff'],
  rain: ['#cad2c5', '#52796f', '#2f3e46', '#84a98c'],
  night: ['#22223b', '#4a4e69', '#0b0c1a', '#f2e9e4'],
};
function heroSvg(campaign) {
  const [sky, far, near, accent] = SCENES[campaign.scene];
  const extra = {
    road: `<path d="M520 300L600 170h20l120 130z" fill="${accent}"/><path d="M608 190v16M606 224v24M602 266v30" stroke="#fff" stroke-width="6"/>`,
    rain: Array.from({ length: 40 }, (_, i) => `<path d="M${(i * 53) % 1200} ${(i * 37) % 220}l-8 22" stroke="#fff" stroke-width="3" opacity=".5"/>`).join(''),
    night: Array.from({ length: 30 }, (_, i) => `<circle cx="${(i * 97) % 1200}" cy="${(i * 41) % 150}" r="${1 + (i % 3)}" fill="#fff" opacity=".8"/>`).join('') + `<path d="M760 300l90-110 90 110z" fill="#f2a65a"/>`,
    peaks: `<path d="M700 110l40-50 40 50-20-6-20 10-20-10z" fill="${accent}"/>`,
    autumn: Array.from({ length: 14 }, (_, i) => `<circle cx="${120 + i * 80}" cy="${210 - (i % 4) * 18}" r="${26 + (i % 3) * 8}" fill="${i % 2 ? '#d62828' : '#f77f00'}" opacity=".85"/>`).join(''),
  }[campaign.scene];
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1200 300" preserveAspectRatio="xMidYMid slice" role="img" aria-label="${campaign.title}">
<rect width="1200" height="300" fill="${sky}"/><circle cx="980" cy="80" r="46" fill="#fff" opacity=".55"/>
<path d="M0 220L160 110l120 80 160-130 190 150 150-100 170 120 120-70 130 80v60H0z" fill="${far}"/>
<path d="M0 260l200-70 180 60 220-80 240 90 180-60 180 50v50H0z" fill="${near}"/>
${extra}
</svg>
`;
}

// ---- synthetic sessions for the trainer ----
/** A small seeded PRNG (mulberry32). */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// What shoppers of a category also look at.
const ALSO = {
  'running-shoes': ['accessories', 'jackets'],
  'hiking-boots': ['backpacks', 'jackets'],
  jackets: ['hiking-boots', 'backpacks'],
  backpacks: ['camping', 'hiking-boots'],
  camping: ['backpacks', 'accessories'],
  accessories: ['running-shoes', 'camping'],
};
function sessions(list) {
  const rand = prng(2026);
  const by = (c) => list.filter((p) => p.category === c);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const lines = ['SessionId\tItemId\tTime'];
  let time = 1_790_000_000;
  for (let s = 1; s <= 600; s++) {
    const main = pick(CATEGORIES).id;
    // Popularity is skewed: the first products of a category are seen more.
    const favourite = () => by(main)[Math.floor(rand() ** 1.7 * 6)];
    const n = 3 + Math.floor(rand() * 5);
    for (let i = 0; i < n; i++) {
      const p = rand() < 0.75 ? favourite() : pick(by(pick(ALSO[main])));
      time += 20 + Math.floor(rand() * 90);
      lines.push(`s${s}\t${p.id}\t${time}`);
    }
    time += 3600;
  }
  return lines.join('\n') + '\n';
}

// ---- the files ----
function files() {
  const list = products();
  const out = new Map();
  const json = (rows) => `[\n${rows.map((r) => `  ${JSON.stringify(r)}`).join(',\n')}\n]\n`;
  out.set('catalogue.js', `// Generated by www/tools/catalogue.mjs: do not edit by hand.
export const CATEGORIES = ${JSON.stringify(CATEGORIES.map(({ id, name, blurb }) => ({ id, name, blurb })), null, 2)};
export const PRODUCTS = ${JSON.stringify(list, null, 2)};
export const CAMPAIGNS = ${JSON.stringify(CAMPAIGNS.map(({ scene, ...c }) => ({ ...c, image: `/img/${c.id}.svg` })), null, 2)};
`);
  for (const p of list) out.set(`img/${p.id}.svg`, productSvg(p, CATEGORIES.find((c) => c.id === p.category).shape));
  for (const c of CAMPAIGNS) out.set(`img/${c.id}.svg`, heroSvg(c));
  out.set('img/favicon.svg', '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M2 26L12 8l6 10 4-6 8 14z" fill="#1f6f50"/></svg>\n');
  const items = [
    ...list.map((p) => ({ id: p.id, category: p.category })),
    // Campaign items: what hero and offer rules can show (category "campaigns").
    ...CAMPAIGNS.filter((c) => c.id !== 'hero-default').map((c) => ({ id: c.id, category: 'campaigns' })),
    ...OFFERS.filter((o) => o.id !== 'offer-default').map((o) => ({ id: o.id, category: 'campaigns' })),
  ];
  out.set('authoring/items.json', json(items));
  const content = [
    ...CAMPAIGNS.map(({ scene, ...c }) => ({ ...c, image: `/img/${c.id}.svg` })),
    ...OFFERS,
    RECS_DEFAULT,
    ...list.map((p) => ({ id: p.id, title: p.name, body: p.blurb, image: p.image, link: `/p/${p.id}`, cta: 'View product', price: p.price })),
  ];
  out.set('authoring/content.json', json(content));
  out.set('training/sessions.tsv', sessions(list));
  return out;
}

const check = process.argv.includes('--check');
let stale = 0;
for (const [name, text] of files()) {
  const file = path.join(WWW, name);
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  if (current === text) continue;
  if (check) {
    console.error(`stale: www/${name} (run node www/tools/catalogue.mjs)`);
    stale++;
  } else {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}
if (stale) process.exit(1);
