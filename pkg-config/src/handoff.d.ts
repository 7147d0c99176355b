/** The type of the inert script that carries a page's decisions to the browser. */
export const HANDOFF_TYPE: 'application/slotwise+json';

/**
 * The `<script type="application/slotwise+json">` carrying decisions made on a
 * server or edge, for the browser SDK's `hydrate` to adopt: `bundleId` (the bundle
 * they were made with), the slot `names` of the `flat` engine records in order, and
 * `sent`: whether their impressions were already sent (the browser then sends none).
 */
export function handoffScript(bundleId: string, names: string[], flat: ArrayLike<number>, sent: boolean): string;

/** The checked handoff in `root` for `bundleId`, or null (none, or it does not check out). */
export function readHandoff(root: ParentNode, bundleId: string | null): { names: string[]; flat: Uint32Array; sent: boolean } | null;

/**
 * Decides every slot for `visitor` (`sw.visitor(...)`, Node or edge entry) for a
 * server-side render: the decisions to render with (`sw.explain` works on them) and
 * `script(sent)`, the handoff for the page. Null without a bundle.
 */
export function serverDecisions(
  sw: import('./slotwise.js').Slotwise,
  visitor: import('./slotwise.js').SlotwiseVisitor,
  context?: Record<string, string | number | boolean>,
): { decisions: Record<string, import('./slotwise.js').Decision>; script(sent: boolean): string } | null;
