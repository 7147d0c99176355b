// Node entry: the module is read from the package directory.
import { readFile } from 'node:fs/promises';
import { initSync } from './slotwise_wasm.js';
import { setInit } from './slotwise.js';

setInit(async () => {
  initSync({ module: await readFile(new URL('./slotwise_wasm_bg.wasm', import.meta.url)) });
});

export { Slotwise, SlotwiseError } from './slotwise.js';
