//! JavaScript bindings (filled in by the wasm build step).
