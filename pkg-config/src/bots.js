// Bot classification: who gets the page's defaults and is never measured.
//
// A request is a bot when any of these says so, in this order (the first one that
// applies is the reason):
//   1. `verified`  — the platform vouches for it: Cloudflare's
//      `request.cf.botManagement.verifiedBot` (or `cf.verifiedBotCategory`), set for
//      search engines, monitors and other declared crawlers.
//   2. `score`     — Cloudflare Bot Management's `request.cf.botManagement.score`
//      below 30 ("likely automated"), when the zone has it.
//   3. `user_agent` — a crawler user agent: the self-declared tokens (`bot`,
//      `crawler`, `spider`, `slurp`, `facebookexternalhit`, `preview`...), HTTP
//      libraries (`curl`, `wget`, `python-requests`, `Go-http-client`, `node-fetch`,
//      `axios`...) and headless browsers that name themselves (`HeadlessChrome`,
//      `PhantomJS`, `Lighthouse`).
//   4. `no_user_agent` — an empty User-Agent header (a missing one is not enough:
//      server-side fetches and tests often send none).
//   5. `sec_ch_ua`  — a `Sec-CH-UA` client hint naming a headless brand.
//
// A bot gets every slot's default (the page as the origin sent it), is enrolled in
// no experiment, sends and is sent no signal, and so never counts in lift. What is
// NOT a bot: `navigator.webdriver` (automation used by real visitors' tools and by
// our own end-to-end tests) and browsers whose user agent merely looks unusual.
// The same function classifies in the browser (`classifyBot(navigator.userAgent)`),
// where only the user agent is known.

const CRAWLER_UA = /bot\b|bot\/|crawl|spider|slurp|mediapartners|facebookexternalhit|embedly|preview|pinterest|bingpreview|headlesschrome|phantomjs|lighthouse|pagespeed|curl\/|wget\/|python-requests|python-urllib|aiohttp|go-http-client|java\/|okhttp|node-fetch|axios\/|libwww|httpclient|scrapy|ahrefs|semrush|yandex|baiduspider|duckduckgo|applebot|archive\.org_bot|ia_archiver|monitor|uptime|pingdom/i;
const HEADLESS_BRAND = /headless/i;

/**
 * Classifies a visitor: `{ bot: true, reason }` or `{ bot: false, reason: null }`.
 * `userAgent`: the User-Agent string (undefined when unknown: not a bot by itself;
 * an empty string: a bot); `secChUa`: the Sec-CH-UA header; `cf`: the platform's
 * request metadata (`request.cf` in Cloudflare Workers).
 */
export function classifyBot(userAgent, secChUa = null, cf = null) {
  const mgmt = cf && typeof cf === 'object' ? cf.botManagement : null;
  if ((mgmt && mgmt.verifiedBot === true) || (cf && typeof cf.verifiedBotCategory === 'string' && cf.verifiedBotCategory !== '')) {
    return { bot: true, reason: 'verified' };
  }
  if (mgmt && typeof mgmt.score === 'number' && mgmt.score > 0 && mgmt.score < 30) return { bot: true, reason: 'score' };
  if (typeof userAgent === 'string') {
    if (userAgent.trim() === '') return { bot: true, reason: 'no_user_agent' };
    if (CRAWLER_UA.test(userAgent)) return { bot: true, reason: 'user_agent' };
  }
  if (typeof secChUa === 'string' && HEADLESS_BRAND.test(secChUa)) return { bot: true, reason: 'sec_ch_ua' };
  return { bot: false, reason: null };
}

/** Classifies a Web-standard `Request` (User-Agent, Sec-CH-UA, `request.cf`). */
export function classifyRequest(request) {
  return classifyBot(request.headers.get('user-agent') ?? undefined, request.headers.get('sec-ch-ua'), request.cf ?? null);
}
