// Trailhead, the Slotwise demo shop: a single-page shop whose slots are decided in the
// browser. Boot: consent (remembered only with personalization consent) → load the
// bundle from the origin → render the route → `sw.hydrate(view)` fills its slots.
// Navigation re-renders without reloading, so what the visitor just browsed changes
// the next view's slots (in-session adaptation); with consent it also survives reloads.
import { Slotwise } from '/pkg/browser.js';
import { CATEGORIES, PRODUCTS } from './catalogue.js';
import * as views from './views.js';
import { openWhy, closeWhy } from './why.js';
import { debugPanel, snippetClaims } from './debug.js';
import { preferencesForm } from './preferences.js';

const CONSENT_KEY = 'trailhead.consent';
const CART_KEY = 'trailhead.cart';
const params = new URLSearchParams(location.search);

// ---- consent: what the visitor chose (stored on the device only with personalization) ----
function storedConsent() {
  try {
    return JSON.parse(localStorage.getItem(CONSENT_KEY) ?? 'null');
  } catch {
    return null;
  }
}
let consent = storedConsent();
let cart = [];
let currentProduct = null;
let hydration = null;
let ordered = false;
const device = () => (matchMedia('(max-width: 700px)').matches ? 'mobile' : 'desktop');

// ---- the page's defaults first (hidden until decided, see index.html), then the runtime ----
const view = document.getElementById('view');
view.replaceChildren(pageFor(location.pathname).page);
const sw = await Slotwise.load({
  bundle: params.get('bundle') ?? '/v1/bundle',
  consent: consent ?? {},
  signals: { endpoint: '/v1/signals', flushAfterMs: 1000 },
  // An email's preference link carries a signed token: the page acts for its recipient.
  preferences: params.get('token') ? `/v1/preferences?token=${encodeURIComponent(params.get('token'))}` : '/v1/preferences',
});
window.slotwise = sw; // for the console and the tests
const debug = debugPanel(sw, document.getElementById('debug'), document.getElementById('debug-button'));

// ---- the cart (on the device only with personalization consent) ----
try {
  if (sw.consent.personalization) cart = JSON.parse(localStorage.getItem(CART_KEY) ?? '[]').filter((l) => views.byId.has(l.id));
} catch {
  cart = [];
}
function saveCart() {
  document.getElementById('cart-count').textContent = String(cart.reduce((n, l) => n + l.qty, 0));
  try {
    if (sw.consent.personalization) localStorage.setItem(CART_KEY, JSON.stringify(cart));
  } catch {
    // storage full or blocked: the cart lives in memory
  }
}

// ---- slots: the shop renders them itself from its catalogue ----
const decisions = new WeakMap();
const SHELF_TITLES = { recommended: 'Picked for you', popular: 'Popular right now', rule: 'Picked for you' };

function renderSlot(el, d) {
  decisions.set(el, d);
  const name = el.getAttribute('data-slotwise-slot');
  if (d.content) {
    if (name === 'hero' || name === 'promo') {
      el.replaceChildren(views.banner(d.content, name === 'hero' ? 'hero' : 'promo'));
    } else if (name === 'offer' || name === 'basket') {
      el.replaceChildren(views.offerStrip(d.content));
    } else if (d.items.length) {
      const want = name === 'cart-recs' ? 3 : 4;
      const products = d.items.map((id) => views.byId.get(id)).filter((p) => p && p.id !== currentProduct).slice(0, want);
      const title = name === 'similar' ? 'You may also like' : name === 'cart-recs' ? 'Complete your kit' : SHELF_TITLES[d.reason] ?? 'Bestsellers';
      if (products.length) el.replaceChildren(...views.shelf(title, products));
    }
  }
  el.append(views.h('button', { class: 'why-button', type: 'button', 'aria-haspopup': 'dialog' }, 'Why this?'));
  return true;
}

document.addEventListener('click', (event) => {
  const button = event.target.closest('.why-button');
  if (button) {
    const d = decisions.get(button.closest('[data-slotwise-slot]'));
    if (d) openWhy(button, d, sw.explain(d));
    event.preventDefault();
    return;
  }
  if (!event.target.closest('#why')) closeWhy();
});

// ---- pages ----

/** The page for a path, with the context its slots are decided in. */
function pageFor(path) {
  const [, kind, id] = path.split('/');
  const context = { path, device: device() };
  if (params.get('weather')) context.weather = params.get('weather');
  if (path === '/' || path === '/index.html') return { page: views.home(), context };
  if (kind === 'c') return { page: views.category(id), context: { ...context, category: id }, event: { type: 'category_view', category: id } };
  if (kind === 'p' && views.byId.has(id)) {
    const page = views.product(id, { onAdd: addToCart });
    return { page, context: { ...context, category: views.byId.get(id).category }, event: { type: 'view', item: id }, product: id };
  }
  if (kind === 'preferences') return { page: views.preferences(), context, preferences: true };
  if (kind === 'cart') return { page: views.cart(cart, { onRemove: removeFromCart, onCheckout: checkout, done: ordered }), context };
  return { page: views.notFound(), context };
}

function render() {
  closeWhy();
  hydration?.stop();
  const path = location.pathname;
  const { page, context, event, product, preferences } = pageFor(path);
  currentProduct = product ?? null;
  if (event) track(event); // before deciding: this view counts
  view.replaceChildren(page);
  hydration = sw.hydrate(view, { context, render: renderSlot });
  if (preferences) preferencesForm(sw, page.querySelector('#prefs-form'), { onErased: forget });
  debug.context(context);
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('href') === path));
}

function track(event) {
  sw.track(event);
  debug.event(event);
}

function addToCart(p) {
  const line = cart.find((l) => l.id === p.id);
  if (line) line.qty++;
  else cart.push({ id: p.id, qty: 1 });
  saveCart();
  track({ type: 'add_to_cart', item: p.id, value: p.price });
  const button = view.querySelector('.add');
  if (button) {
    button.textContent = 'Added ✓';
    setTimeout(() => { button.textContent = 'Add to cart'; }, 1200);
  }
}

function removeFromCart(p) {
  cart = cart.filter((l) => l.id !== p.id);
  saveCart();
  track({ type: 'remove', item: p.id });
  render();
}

function checkout(total) {
  for (const l of cart) track({ type: 'purchase', item: l.id, value: views.byId.get(l.id).price * l.qty });
  sw.convert({ value: total });
  sw.flush();
  cart = [];
  ordered = true;
  saveCart();
  render();
  ordered = false;
}

export function navigate(path) {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  render();
  window.scrollTo(0, 0);
}

document.addEventListener('click', (event) => {
  const a = event.target.closest('a[href]');
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.endsWith('.html') || a.target) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
addEventListener('popstate', render);

// ---- the consent banner, wired to sw.setConsent ----
const banner = document.getElementById('consent');
const form = document.getElementById('consent-form');
function applyConsent(choice) {
  consent = choice;
  sw.setConsent(choice);
  try {
    if (choice.personalization) localStorage.setItem(CONSENT_KEY, JSON.stringify(choice));
    else localStorage.removeItem(CONSENT_KEY);
    if (!choice.personalization) localStorage.removeItem(CART_KEY);
    else saveCart();
  } catch {
    // storage blocked
  }
  banner.hidden = true;
  if (choice.personalization) loadSnippet();
  debug.update();
  hydration?.refresh(); // the slots may use more (or less) now
}
function showBanner() {
  const c = sw.consent;
  for (const purpose of ['personalization', 'measurement', 'advertising']) form.elements[purpose].checked = c[purpose];
  banner.hidden = false;
}
document.getElementById('consent-accept').onclick = () => applyConsent({ personalization: true, measurement: true, advertising: true });
document.getElementById('consent-reject').onclick = () => applyConsent({ personalization: false, measurement: false, advertising: false });
document.getElementById('consent-choose').onclick = () => {
  form.hidden = false;
  document.getElementById('consent-save').hidden = false;
  document.getElementById('consent-choose').hidden = true;
};
document.getElementById('consent-save').onclick = () => applyConsent({
  personalization: form.elements.personalization.checked,
  measurement: form.elements.measurement.checked,
  advertising: form.elements.advertising.checked,
});
document.getElementById('privacy-button').onclick = showBanner;

/** After an erasure: nothing of the visitor is kept on the device either. */
function forget() {
  try {
    for (const key of [CONSENT_KEY, CART_KEY, 'slotwise.session', 'slotwise.muted']) localStorage.removeItem(key);
  } catch {
    // storage blocked
  }
}

// ---- the origin's profile snippet (with personalization consent only) ----
async function loadSnippet() {
  const id = sw.visitorId;
  if (!sw.consent.personalization || !id || !/^[0-9a-f]{16}$/.test(id)) return;
  // Signals carry the pseudonymous subject (only with personalization), so the
  // origin's profile of this visitor grows as they browse.
  if (sw.signalQueue) sw.signalQueue.subject = id;
  try {
    const [keys, snippet] = await Promise.all([
      fetch('/v1/keys').then((r) => r.json()),
      fetch(`/v1/snippet?id=anon:${id}`).then((r) => (r.ok ? r.json() : null)),
    ]);
    if (!snippet?.token) return;
    const ring = Object.fromEntries(keys.keys.map((k) => [k.kid, k.public]));
    await sw.useSnippet(snippet.token, { keys: ring });
    debug.snippet(snippet.token, sw.profile);
    // Categories muted in the preference centre (on another device, say): the slots
    // already on screen re-decide without them.
    if (sw.profile?.ok && snippetClaims(snippet.token).muted.length) hydration?.refresh();
  } catch (e) {
    debug.snippet(null, { ok: false, reason: String(e) });
  }
}

// ---- go ----
document.getElementById('nav').replaceChildren(...CATEGORIES.map((c) => views.h('a', { href: `/c/${c.id}` }, c.name)));
saveCart();
render();
if (consent === null) showBanner();
else loadSnippet();
document.documentElement.dataset.slotwise = sw.error ? `error:${sw.error.code}` : 'ready';
console.info(`Slotwise ${sw.bundleId ?? 'without a bundle'}: ${PRODUCTS.length} products`);
