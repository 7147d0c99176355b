// Browser entry: the small module (no page rewriter), fetched next to this file.
import init, * as wasm from './slotwise_wasm.js';
import { createSlotwise } from './slotwise.js';

export const Slotwise = createSlotwise(wasm, () =>
  init({ module_or_path: new URL('./slotwise_wasm_bg.wasm', import.meta.url) }),
);
export { SlotwiseError } from './slotwise.js';
