// The ready Slotwise module worker: set SLOTWISE_ORIGIN (a var) and SLOTWISE_BUNDLE
// (a Data module or static asset binding, or a URL such as the origin's /v1/bundle).
//
//   // wrangler.toml: main = "node_modules/slotwise/worker/worker.js" — or in your own:
//   import { handler } from 'slotwise/worker';
//   export default handler;
export { handler as default } from 'slotwise/worker';
