// Edge entry (workerd and other worker runtimes). workerd refuses to compile wasm
// from bytes, so the module is imported as a compiled WebAssembly.Module and each
// instance is made from it synchronously.
import edgeModule from './slotwise_edge_bg.wasm';
import { createBindings } from './slotwise_edge.js';
import { createSlotwise } from './slotwise.js';
import { createHandler } from './edge.js';

/** A fresh wasm instance with its own Slotwise class (the handler's after a trap). */
function instance() {
  const bindings = createBindings();
  return { bindings, Slotwise: createSlotwise(bindings, () => bindings.initSync({ module: edgeModule })) };
}

export const { Slotwise } = instance();
export const { handle, handler } = createHandler(instance);
export { SlotwiseError } from './slotwise.js';
