// Node entry: the edge module (with the page rewriter), read from the package
// directory. Node's Request/Response stand in for any Web-standard runtime.
import { readFile } from 'node:fs/promises';
import * as wasm from './slotwise_edge.js';
import { createSlotwise } from './slotwise.js';
import { createHandler } from './edge.js';

export const Slotwise = createSlotwise(wasm, async () => {
  wasm.initSync({ module: await readFile(new URL('./slotwise_edge_bg.wasm', import.meta.url)) });
});
export const { handle, handler } = createHandler(Slotwise);
export { SlotwiseError } from './slotwise.js';
