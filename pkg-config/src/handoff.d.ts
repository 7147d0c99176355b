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
