//! Slotwise core: decides what fills each slot of a page from a signed bundle.
//!
//! The core is pure: no I/O, no clock, no randomness of its own. Time and seeds are
//! arguments, so the same code runs natively (origin, CLI, tests) and in wasm32
//! (browser, edge workers). `wasm` is the only module that knows about JavaScript.
//!
//! ```
//! use slotwise::bundle::{self, Bundle};
//! use slotwise::decide::{Engine, Request};
//!
//! let bytes = bundle::encode(&Bundle::example());
//! let engine = Engine::new(bundle::decode(&bytes).unwrap());
//! let decisions = engine.decide(&Request::new(&["hero"], 7));
//! // The example's hero has one candidate and no rules: it wins, in the shop's order.
//! assert_eq!(decisions[0].reason.code(), "featured");
//! assert_eq!(decisions[0].content.unwrap().id, "sku-1");
//! ```
#![forbid(unsafe_code)]

pub mod base64url;
pub mod bundle;
pub mod caps;
pub mod consent;
pub mod decide;
pub mod error;
pub mod experiment;
pub mod hex;
pub mod host;
pub mod html;
pub mod journey;
pub mod page_context;
pub mod preferences;
pub mod profile;
pub mod render;
pub mod rules;
pub mod score;
pub mod session;
pub mod signals;
pub mod sort;
pub mod wire;

pub use error::{Error, ErrorKind};

/// Whether this build favours speed over size: natively and in the edge module. The
/// browser module (size budget) leaves out the engine's speed-only paths (the
/// candidate sieve, cheap-first conjunctions, affinities moved into place instead of
/// re-sorted); they skip work only, so decisions are the same in every build.
pub(crate) const SPEED: bool = cfg!(any(feature = "edge", not(target_arch = "wasm32")));

#[cfg(target_arch = "wasm32")]
pub mod wasm;

// Talc instead of the default dlmalloc: faster and ~3 KB gzip smaller in wasm
// (measured by `cargo xtask build`'s size report). No unsafe code on our side.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
