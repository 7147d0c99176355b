// The "Why this?" popover: the decision's human sentence from `sw.explain`, and the
// machine details under it (reason code, rules, experiment arm).
const popover = document.getElementById('why');

const REASON_LABELS = {
  recommended: 'Recommended', popular: 'Popular', rule: 'Shop rule', pinned: 'Pinned', featured: 'Featured',
  default: 'Standard content', control: 'Experiment (control)', experiment: 'Experiment', holdout: 'Holdout',
  capped: 'Frequency cap', journey: 'Where you left off', no_bundle: 'Page default', unknown_slot: 'Not personalized',
};

export function openWhy(button, decision, explanation) {
  const details = [
    ['Reason', `${REASON_LABELS[explanation.code] ?? explanation.code} (${explanation.code})`],
    decision.rules.length && ['Rules', decision.rules.join(', ')],
    decision.variant && ['Experiment', `${decision.variant.experiment}: ${decision.variant.variation}`],
    decision.decisionId && ['Decision', decision.decisionId],
  ].filter(Boolean);
  const title = document.createElement('strong');
  title.textContent = 'Why am I seeing this?';
  const text = document.createElement('p');
  text.className = 'why-text';
  text.textContent = explanation.text || 'This is the standard content for this spot.';
  const dl = document.createElement('dl');
  for (const [k, v] of details) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  const foot = document.createElement('p');
  foot.className = 'why-foot';
  const prefs = document.createElement('a');
  prefs.href = '/preferences';
  prefs.textContent = 'Hide categories or see more of them';
  foot.append('Decided in your browser. Change what we may use under “Privacy”. ', prefs, '.');
  popover.replaceChildren(title, text, dl, foot);
  popover.hidden = false;
  const r = button.getBoundingClientRect();
  const width = Math.min(320, window.innerWidth - 24);
  popover.style.width = `${width}px`;
  popover.style.left = `${Math.max(12, Math.min(r.right - width, window.innerWidth - width - 12)) + scrollX}px`;
  popover.style.top = `${r.bottom + 8 + scrollY}px`;
}

export function closeWhy() {
  popover.hidden = true;
}

addEventListener('keydown', (e) => { if (e.key === 'Escape') closeWhy(); });
