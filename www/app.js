// Demo page: load the bundle, decide every declared slot, render its content.
import { Slotwise } from '/pkg/browser.js';

const text = (tag, value, cls) => {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
};

function render(el, content) {
  el.replaceChildren();
  if (content.title) el.append(text(el.classList.contains('hero') ? 'h1' : 'h2', content.title));
  if (content.body) el.append(text('p', content.body));
  if (content.price != null) el.append(text('p', `€${content.price.toFixed(2)}`, 'price'));
  if (content.link && content.cta) {
    const a = text('a', content.cta, 'cta');
    a.href = content.link;
    el.append(a);
  }
}

const sw = await Slotwise.load({ bundle: '/slotwise/bundle' });
const slots = [...document.querySelectorAll('[data-slotwise-slot]')];
const decisions = sw.decide({ slots: slots.map((el) => el.dataset.slotwiseSlot) });
const why = document.getElementById('why');
for (const el of slots) {
  const d = decisions[el.dataset.slotwiseSlot];
  if (d.content) render(el, d.content);
  const button = text('button', 'Why this?', 'why-button');
  button.addEventListener('click', () => {
    why.textContent = sw.explain(d).text;
    why.hidden = false;
  });
  el.append(button);
}
document.documentElement.dataset.slotwise = sw.error ? `error:${sw.error.code}` : 'ready';
