// A site built with Vite consuming the installed slotwise package (bare import).
import { Slotwise } from 'slotwise';

const sw = await Slotwise.load({ bundle: '/bundle.swb' });
const seen = [];
sw.onDecision((d) => seen.push(...Object.keys(d)));
const { decisions } = sw.hydrate(document);
window.result = { error: sw.error && sw.error.code, reasons: Object.fromEntries(Object.entries(decisions).map(([k, d]) => [k, d.reason])), seen };
