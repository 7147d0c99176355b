// Node entry: the edge module (with the page rewriter), read from the package
// directory and compiled once. Node's Request/Response stand in for any
// Web-standard runtime.
import { readFile } from 'node:fs/promises';
import { createBindings } from './slotwise_edge.js';
import { createSlotwise } from './slotwise.js';
import { createHandler } from './edge.js';

let compiled = null;
const compile = () =>
  (compiled ??= readFile(new URL('./slotwise_edge_bg.wasm', import.meta.url)).then((bytes) => WebAssembly.compile(bytes)));

/** A fresh wasm instance with its own Slotwise class (the handler's after a trap). */
function instance() {
  const bindings = createBindings();
  return { bindings, Slotwise: createSlotwise(bindings, async () => bindings.initSync({ module: await compile() })) };
}

export const { Slotwise } = instance();
export const { handle, handler } = createHandler(instance);
export { SlotwiseError } from './slotwise.js';
