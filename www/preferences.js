// The preference page (/preferences): the visitor's own choices, kept by the origin for
// their identity cluster (GET|PUT /v1/preferences through `sw.preferences`):
// categories to hide or to see more of, how often each channel may contact them, the
// data-sharing choices as the shop recorded them, and links to export or erase what
// the shop holds. A change applies on the device at once: every slot on the page
// re-decides without a reload (the "Suggestions for you" shelf below shows it), then
// the origin stores it and the next profile snippet carries it.
// An email link (/preferences?token=...) acts for the recipient: see app.js.
import { CATEGORIES } from './catalogue.js';
import { h } from './views.js';

const LABELS = { campaigns: 'Offers & banners' };
const label = (id) => LABELS[id] ?? CATEGORIES.find((c) => c.id === id)?.name ?? id;
const CHANNELS = [['email', 'Email'], ['push', 'Push notifications'], ['sms', 'Text messages (SMS)']];
const FREQUENCIES = [['any', 'Any time'], ['daily', 'At most daily'], ['weekly', 'At most weekly'], ['monthly', 'At most monthly'], ['never', 'Never']];

/** Fills `root` (the page's form area) from the origin and wires the controls. */
export async function preferencesForm(sw, root, { onErased } = {}) {
  const status = h('p', { class: 'prefs-status', role: 'status' }, 'Loading your choices…');
  root.replaceChildren(status);
  let answer;
  try {
    answer = await sw.preferences.get();
  } catch (e) {
    status.textContent = `Your choices could not be loaded (${e.code ?? e}).`;
    return;
  }
  const say = (text) => { status.textContent = text; };
  const save = async (change, done) => {
    say('Saving…');
    try {
      answer = await sw.preferences.set(change);
      say(done);
    } catch (e) {
      say(`Not saved: ${e.message} (${e.code}).`);
    }
  };
  const prefs = answer.preferences;

  const rows = answer.categories.map((id) => {
    const muted = prefs.mute.includes(id);
    const more = prefs.more.includes(id);
    const choose = (value) => {
      const p = answer.preferences;
      const mute = p.mute.filter((c) => c !== id);
      const wanted = p.more.filter((c) => c !== id);
      if (value === 'mute') mute.push(id);
      if (value === 'more') wanted.push(id);
      save({ mute, more: wanted }, value === 'mute' ? `${label(id)} is hidden everywhere.` : 'Saved.');
    };
    const radio = (value, text, checked) => h('label', {},
      h('input', { type: 'radio', name: `cat-${id}`, value, checked, 'data-category': id, onchange: () => choose(value) }), ` ${text}`);
    return h('tr', {}, h('th', { scope: 'row' }, label(id)),
      h('td', {}, radio('more', 'More of this', more)),
      h('td', {}, radio('normal', 'As usual', !muted && !more)),
      h('td', {}, radio('mute', 'Never show', muted)));
  });

  const contact = CHANNELS.map(([channel, name]) => h('label', { class: 'prefs-channel' }, name,
    h('select', { name: channel, onchange: (e) => save({ contact: { [channel]: e.target.value } }, `${name}: saved.`) },
      FREQUENCIES.map(([value, text]) => h('option', { value, selected: (prefs.contact[channel] ?? 'any') === value }, text)))));

  const c = answer.consent;
  const sharing = h('ul', { class: 'prefs-consent' },
    ...[['personalization', 'Tailor the shop to what you browse'], ['measurement', 'Measure which suggestions help'], ['advertising', 'Share with advertising partners']]
      .map(([k, text]) => h('li', {}, h('strong', {}, c ? (c[k] ? 'Yes' : 'No') : 'Not recorded'), ` — ${text}`)));

  const erase = h('button', { class: 'link danger', type: 'button', onclick: async () => {
    if (!confirm('Erase everything this shop holds about you?')) return;
    const r = await fetch(answer.links.erase, { method: 'DELETE' });
    say(r.ok ? 'Erased. Nothing about you is kept any more.' : `Not erased (HTTP ${r.status}).`);
    if (r.ok) onErased?.();
  } }, 'Erase my data');

  root.replaceChildren(
    h('section', { class: 'prefs-block' }, h('h2', {}, 'What you see'),
      h('p', {}, 'Hidden categories never appear in any suggestion, banner or email. Changes apply at once.'),
      h('table', { class: 'prefs-categories' }, h('tbody', {}, rows))),
    h('section', { class: 'prefs-block' }, h('h2', {}, 'How often we contact you'), h('div', { class: 'prefs-channels' }, contact)),
    h('section', { class: 'prefs-block' }, h('h2', {}, 'Data sharing'),
      h('p', {}, 'As recorded by the shop. ', h('button', { class: 'link', type: 'button', onclick: () => document.getElementById('privacy-button').click() }, 'Change on this device')),
      sharing),
    h('section', { class: 'prefs-block' }, h('h2', {}, 'Your data'),
      h('p', {}, h('a', { href: answer.links.export, target: '_blank', rel: 'noopener', id: 'prefs-export' }, 'Download what the shop holds (JSON)'), ' · ', erase)),
    status);
  say(answer.subject.startsWith('anon:') ? 'Your choices for this browser.' : `Your choices for ${answer.subject}.`);
}
