// Browser entry: the module is fetched next to this file and streamed into wasm.
import init from './slotwise_wasm.js';
import { setInit } from './slotwise.js';

setInit(() => init({ module_or_path: new URL('./slotwise_wasm_bg.wasm', import.meta.url) }));

export { Slotwise, SlotwiseError } from './slotwise.js';
