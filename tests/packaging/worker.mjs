// A module worker as a site would write it: the bundle ships as a Data module.
import { Slotwise } from 'slotwise';
import bundle from './fixtures/shop.swb';

let loaded;
export default {
  async fetch(request) {
    loaded ??= Slotwise.load({ bundle });
    const sw = await loaded;
    const slots = new URL(request.url).searchParams.get('slots')?.split('|') ?? [];
    const d = sw.decide({ slots });
    return Response.json({ d, error: sw.error && sw.error.code, why: d.hero && sw.explain(d.hero) });
  },
};
