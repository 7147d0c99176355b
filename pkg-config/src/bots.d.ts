/** Why a visitor is classified a bot (see bots.js): the first rule that applies. */
export type BotReason = 'verified' | 'score' | 'user_agent' | 'no_user_agent' | 'sec_ch_ua';

/** A bot classification: bots get every slot's default and are never measured. */
export interface BotClass {
  bot: boolean;
  reason: BotReason | null;
}

/** Platform request metadata that may vouch for a bot (Cloudflare's `request.cf`). */
export interface BotHints {
  botManagement?: { verifiedBot?: boolean; score?: number };
  verifiedBotCategory?: string;
}

/**
 * Classifies a visitor from its User-Agent (undefined: unknown, not a bot by itself;
 * empty: a bot), its `Sec-CH-UA` header and the platform's hints. In the browser:
 * `classifyBot(navigator.userAgent)` (navigator.webdriver is not a bot).
 */
export function classifyBot(userAgent?: string, secChUa?: string | null, cf?: BotHints | null): BotClass;

/** Classifies a Web-standard Request (User-Agent, Sec-CH-UA, `request.cf`). */
export function classifyRequest(request: Request & { cf?: BotHints }): BotClass;
