// Edge entry (workerd and other worker runtimes). workerd refuses to compile wasm
// from bytes, so the module is imported as a compiled WebAssembly.Module.
import edgeModule from './slotwise_edge_bg.wasm';
import * as wasm from './slotwise_edge.js';
import { createSlotwise } from './slotwise.js';
import { createHandler } from './edge.js';

export const Slotwise = createSlotwise(wasm, () => {
  wasm.initSync({ module: edgeModule });
});
export const { handle, handler } = createHandler(Slotwise);
export { SlotwiseError } from './slotwise.js';
