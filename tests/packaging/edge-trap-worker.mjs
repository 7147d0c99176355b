// A module worker whose first wasm instance traps on the page rewriter's second
// write (its pointer is made to point outside the instance's memory): for the
// failure-isolation test in workerd (edge-failure.test.mjs). Built from the package's
// own files as workerd.js builds its handler.
import edgeModule from './slotwise_edge_bg.wasm';
import { createBindings } from './node_modules/slotwise/slotwise_edge.js';
import { createSlotwise } from './node_modules/slotwise/slotwise.js';
import { createHandler } from './node_modules/slotwise/edge.js';

let instances = 0;
const { handle } = createHandler(() => {
  const bindings = createBindings();
  if (++instances === 1) {
    const write = bindings.PageRewriter.prototype.feed;
    let calls = 0;
    bindings.PageRewriter.prototype.feed = function (chunk) {
      if (++calls === 2) this.__wbg_ptr = 0xfffffff0;
      return write.call(this, chunk);
    };
  }
  return { bindings, Slotwise: createSlotwise(bindings, () => bindings.initSync({ module: edgeModule })) };
});

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === '/_instances') return new Response(String(instances));
    return handle(request, env, ctx);
  },
};
