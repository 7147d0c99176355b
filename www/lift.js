// Draws GET /v1/report/lift as plain SVG bar charts with 95 % interval whiskers.
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = { personalized: '#3d6fd8', holdout: '#9aa3b5' };

function el(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** One metric: two bars (personalized, holdout), each with its interval. */
export function barChart(title, arms, format) {
  const W = 260, H = 180, top = 16, bottom = 30, left = 10;
  const hi = Math.max(...arms.map((a) => Math.max(a.est.high, a.est.value)), 1e-9);
  const y = (v) => top + (H - top - bottom) * (1 - Math.max(0, v) / hi);
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': title });
  svg.append(el('line', { x1: left, x2: W - left, y1: y(0), y2: y(0), stroke: '#c8cdd6' }));
  arms.forEach((a, i) => {
    const x = left + 40 + i * 110, w = 70;
    svg.append(el('rect', { x, y: y(a.est.value), width: w, height: Math.max(0, y(0) - y(a.est.value)), fill: COLORS[a.name], rx: 3 }));
    const cx = x + w / 2;
    svg.append(el('line', { x1: cx, x2: cx, y1: y(a.est.low), y2: y(a.est.high), stroke: '#1d2330' }));
    for (const v of [a.est.low, a.est.high]) svg.append(el('line', { x1: cx - 8, x2: cx + 8, y1: y(v), y2: y(v), stroke: '#1d2330' }));
    svg.append(el('text', { x: cx, y: Math.max(12, y(a.est.high) - 4), 'text-anchor': 'middle' }, format(a.est.value)));
    svg.append(el('text', { x: cx, y: H - 10, 'text-anchor': 'middle' }, a.name));
  });
  const fig = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = title;
  fig.append(cap, svg);
  return fig;
}

const pct = (v) => `${(v * 100).toFixed(2)} %`;
const money = (cents) => (cents / 100).toFixed(2);
const range = (e, f) => `${f(e.value)} [${f(e.low)}, ${f(e.high)}]`;

function row(cells, head = false) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement(head ? 'th' : 'td');
    td.textContent = c;
    tr.append(td);
  }
  return tr;
}

export function render(report) {
  const charts = document.getElementById('charts');
  charts.replaceChildren();
  const arms = (key) => [
    { name: 'personalized', est: report.personalized[key] },
    { name: 'holdout', est: report.holdout[key] },
  ];
  charts.append(
    barChart('Click-through rate', arms('ctr'), pct),
    barChart('Conversion rate', arms('conversion_rate'), pct),
    barChart('Revenue per visitor', arms('revenue_per_visitor'), money),
  );
  const s = document.getElementById('summary');
  s.replaceChildren(
    row(['', 'visitors', 'impressions', 'clicks', 'CTR', 'conversion', 'revenue / visitor'], true),
    ...['personalized', 'holdout'].map((k) => {
      const a = report[k];
      return row([k, a.visitors, a.impressions, a.clicks, range(a.ctr, pct), range(a.conversion_rate, pct), range(a.revenue_per_visitor, money)]);
    }),
    row(['lift (difference)', '', '', '', '', range(report.conversion_lift, pct), range(report.revenue_lift, money)]),
  );
  const at = report.attribution;
  const p = document.getElementById('paths');
  p.replaceChildren(
    row(['decision channel → conversion channel', 'conversions', 'revenue'], true),
    ...at.paths.map((x) => row([`${x.decision_channel} → ${x.conversion_channel}`, x.conversions, money(x.revenue_cents)])),
    row([`attributed within ${Math.round(at.window_secs / 86400)} d`, `${at.attributed} of ${at.conversions}`, money(at.attributed_revenue_cents)]),
  );
}

async function load(days, windowDays) {
  const status = document.getElementById('status');
  const until = Math.floor(Date.now() / 1000) + 1;
  const url = `/v1/report/lift?since=${until - days * 86400}&until=${until}&window=${windowDays * 86400}`;
  try {
    const r = await fetch(url, { headers: { accept: 'application/json' } });
    const body = await r.json();
    if (!r.ok) throw new Error(body?.error?.message ?? `HTTP ${r.status}`);
    render(body);
    status.textContent = `${days} days to ${new Date(until * 1000).toLocaleString()}`;
    status.className = '';
  } catch (e) {
    status.textContent = `Could not load the report: ${e.message}`;
    status.className = 'error';
  }
}

if (typeof document !== 'undefined') {
  const form = document.getElementById('period');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    load(Number(f.get('days')), Number(f.get('window')));
  });
  load(30, 7);
}
