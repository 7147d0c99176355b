// Edge entry (workerd and other worker runtimes): workerd refuses to compile wasm
// from bytes, so the module is imported as a compiled WebAssembly.Module.
import wasmModule from './slotwise_wasm_bg.wasm';
import { initSync } from './slotwise_wasm.js';
import { setInit } from './slotwise.js';

setInit(() => {
  initSync({ module: wasmModule });
});

export { Slotwise, SlotwiseError } from './slotwise.js';
