// The bot classification (`slotwise/bots`) as the package ships it: the documented
// rules in their order, and the browsers and tools that must not count as bots.
import test from 'node:test';
import assert from 'node:assert/strict';
import { classifyBot, classifyRequest } from 'slotwise/bots';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

test('crawlers, HTTP libraries and headless browsers are bots, with the rule that said so', () => {
  for (const [ua, reason] of [
    ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'user_agent'],
    ['Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 'user_agent'],
    ['facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'user_agent'],
    ['Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)', 'user_agent'],
    ['curl/8.5.0', 'user_agent'],
    ['python-requests/2.32.3', 'user_agent'],
    ['Go-http-client/1.1', 'user_agent'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36', 'user_agent'],
    ['', 'no_user_agent'],
  ]) {
    assert.deepEqual(classifyBot(ua), { bot: true, reason }, ua);
  }
  assert.deepEqual(classifyBot(CHROME, '"HeadlessChrome";v="131", "Chromium";v="131"'), { bot: true, reason: 'sec_ch_ua' });
});

test('platform hints: a verified bot or a low bot score wins over a browser user agent', () => {
  assert.deepEqual(classifyBot(CHROME, null, { botManagement: { verifiedBot: true, score: 99 } }), { bot: true, reason: 'verified' });
  assert.deepEqual(classifyBot(CHROME, null, { verifiedBotCategory: 'Search Engine Crawler' }), { bot: true, reason: 'verified' });
  assert.deepEqual(classifyBot(CHROME, null, { botManagement: { verifiedBot: false, score: 2 } }), { bot: true, reason: 'score' });
  // A high score, no score (0: not computed), or no hints: the user agent decides.
  assert.deepEqual(classifyBot(CHROME, null, { botManagement: { verifiedBot: false, score: 85 } }), { bot: false, reason: null });
  assert.deepEqual(classifyBot(CHROME, null, { botManagement: { score: 0 } }), { bot: false, reason: null });
});

test('browsers, and requests that say nothing, are visitors', () => {
  for (const ua of [CHROME, SAFARI_IOS, FIREFOX, undefined]) {
    assert.deepEqual(classifyBot(ua, '"Chromium";v="131", "Google Chrome";v="131"'), { bot: false, reason: null }, String(ua));
  }
  // A Request without a User-Agent header (server-side fetches, tests) is not a bot
  // by that alone; with a crawler's, it is.
  assert.equal(classifyRequest(new Request('https://shop.example/')).bot, false);
  assert.deepEqual(classifyRequest(new Request('https://shop.example/', { headers: { 'user-agent': 'Slurp' } })), { bot: true, reason: 'user_agent' });
  const req = new Request('https://shop.example/', { headers: { 'user-agent': CHROME } });
  req.cf = { botManagement: { verifiedBot: true } };
  assert.deepEqual(classifyRequest(req), { bot: true, reason: 'verified' });
});
