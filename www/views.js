// The shop's pages as DOM (never HTML strings): home, category, product, cart.
// Every personalized area is a `data-slotwise-slot` element whose children are the
// page's default; Slotwise replaces them only when it has something better.
import { CATEGORIES, PRODUCTS, CAMPAIGNS } from './catalogue.js';

export const byId = new Map(PRODUCTS.map((p) => [p.id, p]));
export const categoryName = (id) => CATEGORIES.find((c) => c.id === id)?.name ?? id;
const money = new Intl.NumberFormat('en-IE', { style: 'currency', currency: 'EUR' });
export const price = (n) => money.format(n);

/** `h('a', { href, class }, ...children)`: text children become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'style') el.style.cssText = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c);
  return el;
}

/** Same-origin paths and http(s) URLs only (content comes from the bundle). */
export function safeUrl(url) {
  try {
    const u = new URL(String(url), location.href);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

const stars = (r) => '★★★★★'.slice(0, Math.round(r)) + '☆☆☆☆☆'.slice(0, 5 - Math.round(r));

export function productCard(p) {
  return h('a', { class: 'card', href: `/p/${p.id}`, 'data-slotwise-item': p.id },
    h('div', { class: 'pic', style: `--tint:${p.colour}` }, h('img', { src: p.image, alt: p.name, width: 400, height: 300, loading: 'lazy' })),
    h('div', { class: 'card-body' },
      h('span', { class: 'eyebrow' }, categoryName(p.category)),
      h('strong', { class: 'name' }, p.name),
      h('span', { class: 'stars', title: `${p.rating.toFixed(1)} out of 5` }, stars(p.rating), h('small', {}, ` ${p.reviews}`)),
      h('span', { class: 'price' }, price(p.price))));
}

/** A campaign banner from content fields (the bundle's, or the page default). */
export function banner(content, size = 'hero') {
  const link = safeUrl(content.link);
  const image = safeUrl(content.image);
  return h('div', { class: `banner ${size}` },
    image && h('img', { class: 'art', src: image, alt: '' }),
    h('div', { class: 'banner-text' },
      h(size === 'hero' ? 'h1' : 'h2', {}, content.title ?? ''),
      content.body && h('p', {}, content.body),
      link && content.cta && h('a', { class: 'button', href: link }, content.cta)));
}

export function shelf(title, products, note) {
  return [h('div', { class: 'shelf-head' }, h('h2', {}, title), note && h('span', { class: 'note' }, note)),
    h('div', { class: 'grid' }, products.map(productCard))];
}

export function offerStrip(content) {
  return h('div', { class: 'offer-strip' }, h('span', { class: 'badge' }, 'Offer'),
    h('strong', {}, content.title ?? ''), content.body && h('span', {}, content.body));
}

const slot = (name, cls, children, live) =>
  h('section', { class: `slot ${cls}`, 'data-slotwise-slot': name, 'data-slotwise-live': live || null }, children);

const campaign = (id) => CAMPAIGNS.find((c) => c.id === id);
const BESTSELLERS = ['running-1', 'hiking-1', 'jackets-1', 'backpacks-1'].map((id) => byId.get(id));
const OFFER_DEFAULT = { title: 'Free returns for 60 days', body: 'On every order, no questions asked.' };

export function home() {
  return h('div', { class: 'page home' },
    slot('hero', 'hero-slot', banner(campaign('hero-default'))),
    h('section', { class: 'tiles' }, CATEGORIES.map((c) => {
      const p = PRODUCTS.find((x) => x.category === c.id);
      return h('a', { class: 'tile', href: `/c/${c.id}`, style: `--tint:${p.colour}` },
        h('img', { src: p.image, alt: '', width: 400, height: 300 }), h('span', {}, c.name));
    })),
    slot('recs', 'shelf', shelf('Bestsellers', BESTSELLERS, 'What other visitors are buying this week')),
    slot('offer', 'offer', offerStrip(OFFER_DEFAULT)));
}

export function category(id) {
  const c = CATEGORIES.find((x) => x.id === id);
  if (!c) return notFound();
  return h('div', { class: 'page category' },
    h('div', { class: 'crumbs' }, h('a', { href: '/' }, 'Home'), ' / ', c.name),
    h('h1', {}, c.name), h('p', { class: 'lead' }, c.blurb),
    slot('promo', 'promo-slot', banner({ ...OFFER_DEFAULT, image: null }, 'promo')),
    h('div', { class: 'grid' }, PRODUCTS.filter((p) => p.category === id).map(productCard)));
}

export function product(id, { onAdd }) {
  const p = byId.get(id);
  if (!p) return notFound();
  const sameCategory = PRODUCTS.filter((x) => x.category === p.category && x.id !== p.id).slice(0, 4);
  return h('div', { class: 'page product' },
    h('div', { class: 'crumbs' }, h('a', { href: '/' }, 'Home'), ' / ', h('a', { href: `/c/${p.category}` }, categoryName(p.category)), ' / ', p.name),
    h('div', { class: 'pdp' },
      h('div', { class: 'pdp-pic', style: `--tint:${p.colour}` }, h('img', { src: p.image, alt: p.name, width: 400, height: 300 })),
      h('div', { class: 'pdp-info' },
        h('span', { class: 'eyebrow' }, categoryName(p.category)),
        h('h1', {}, p.name),
        h('span', { class: 'stars' }, stars(p.rating), h('small', {}, ` ${p.rating.toFixed(1)} · ${p.reviews} reviews`)),
        h('p', { class: 'pdp-price' }, price(p.price)),
        h('p', {}, p.blurb),
        h('p', { class: 'colour' }, h('span', { class: 'swatch', style: `background:${p.colour}` }), ` Colour: ${p.colourName}`),
        h('button', { class: 'button add', type: 'button', onclick: () => onAdd(p) }, 'Add to cart'),
        slot('basket', 'offer', offerStrip(OFFER_DEFAULT), true),
        h('ul', { class: 'perks' }, h('li', {}, 'Free returns for 60 days'), h('li', {}, 'Ships in 1–2 working days')),
        slot('promo', 'promo-slot', banner({ ...OFFER_DEFAULT, image: null }, 'promo')))),
    slot('similar', 'shelf', shelf('More like this', sameCategory), true));
}

export function cart(lines, { onRemove, onCheckout, done }) {
  const total = lines.reduce((s, l) => s + byId.get(l.id).price * l.qty, 0);
  return h('div', { class: 'page cart' },
    h('h1', {}, done ? 'Thank you for your order!' : 'Your cart'),
    done ? h('p', { class: 'lead' }, 'This is a demo: nothing ships, but the purchase was recorded as a conversion.') : null,
    !done && (lines.length
      ? h('div', { class: 'cart-box' },
        h('ul', { class: 'lines' }, lines.map((l) => {
          const p = byId.get(l.id);
          return h('li', {},
            h('img', { src: p.image, alt: '', width: 96, height: 72 }),
            h('a', { href: `/p/${p.id}` }, p.name), h('span', { class: 'qty' }, `× ${l.qty}`),
            h('span', { class: 'price' }, price(p.price * l.qty)),
            h('button', { class: 'link', type: 'button', onclick: () => onRemove(p) }, 'Remove'));
        })),
        h('div', { class: 'total' }, h('span', {}, 'Total'), h('strong', {}, price(total))),
        h('button', { class: 'button', type: 'button', onclick: () => onCheckout(total) }, 'Check out'))
      : h('p', { class: 'lead' }, 'Your cart is empty. ', h('a', { href: '/' }, 'Keep browsing'), '.')),
    slot('offer', 'offer', offerStrip(OFFER_DEFAULT), true),
    slot('cart-recs', 'shelf', shelf('Complete your kit', BESTSELLERS.slice(0, 3)), true));
}

/** The preference page: the form (filled by preferences.js) and a live shelf that
 * shows a change at once. */
export function preferences() {
  return h('div', { class: 'page preferences' },
    h('h1', {}, 'Your preferences'),
    h('p', { class: 'lead' }, 'Choose what this shop shows you and how it may contact you.'),
    h('div', { id: 'prefs-form' }),
    slot('recs', 'shelf', shelf('Suggestions for you', BESTSELLERS), true));
}

export function notFound() {
  return h('div', { class: 'page' }, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '/' }, 'Back to the shop')));
}
