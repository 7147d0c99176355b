//! JavaScript bindings: the only file that knows about wasm-bindgen.
//!
//! Thin newtype classes over core types: convert the input, call the core, convert
//! the output — nothing else. Bytes cross as `Uint8Array`. Decisions leave as a flat
//! `Uint32Array` (four numbers per slot) that the package's JS turns into objects:
//! one cheap crossing per page instead of one per field, and no serializer in the
//! module. Content objects are built once per content index and cached by the JS.
//! Errors become a JS `Error` named `SlotwiseError` with a stable `code` property.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::bundle;
use crate::decide::{self, Reason, Request};
use crate::error::Error;

fn js_error(error: Error) -> JsValue {
    let js = js_sys::Error::new(error.detail());
    js.set_name("SlotwiseError");
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
    js.into()
}

/// Numbers per decision in [`Engine::decide`]'s output.
const STRIDE: usize = 4;
/// `content + 1` in the output when the slot keeps the page's markup.
const NO_CONTENT: u32 = 0;

/// A decoded bundle ready to decide (`Engine` in JS).
#[wasm_bindgen]
pub struct Engine(decide::Engine);

#[wasm_bindgen]
impl Engine {
    /// Decodes and validates `SWB1` bytes; throws `SlotwiseError` with a stable code.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Engine, JsValue> {
        bundle::decode(bytes)
            .map(|b| Engine(decide::Engine::new(b)))
            .map_err(js_error)
    }

    /// The bundle id.
    #[wasm_bindgen(getter, js_name = bundleId)]
    pub fn bundle_id(&self) -> String {
        self.0.bundle().header.id.clone()
    }

    /// Decides the slots named in `slots` (comma-separated). `seed_hi`/`seed_lo` are
    /// 32 random bits each from the host's crypto (a u64 would cross as a BigInt).
    /// Returns, per slot, `[content index + 1 or 0, reason, id high, id low]`.
    pub fn decide(&self, slots: &str, seed_hi: u32, seed_lo: u32) -> Vec<u32> {
        let names: Vec<&str> = slots.split(',').collect();
        let seed = (u64::from(seed_hi) << 32) | u64::from(seed_lo);
        flatten(&self.0.decide(&Request {
            slots: &names,
            seed,
        }))
    }

    /// The content at `index` as a plain object (fields that are absent are omitted).
    pub fn content(&self, index: u32) -> JsValue {
        let Some(c) = self.0.bundle().content.get(index as usize) else {
            return JsValue::NULL;
        };
        let obj = Object::new();
        let set = |key: &str, value: JsValue| {
            let _ = Reflect::set(&obj, &key.into(), &value);
        };
        set("id", c.id.as_str().into());
        for (key, value) in [
            ("title", &c.title),
            ("body", &c.body),
            ("image", &c.image),
            ("link", &c.link),
            ("cta", &c.cta),
        ] {
            if let Some(v) = value {
                set(key, v.as_str().into());
            }
        }
        if let Some(price) = c.price {
            set("price", price.into());
        }
        obj.into()
    }
}

/// The replacement lookup a [`PageRewriter`] owns: slot name → rendered HTML.
#[cfg(feature = "edge")]
type SlotFill = Box<dyn FnMut(&str) -> Option<String>>;

/// Fills the slots of one HTML page as it streams (`Engine.rewritePage` in the edge
/// build): decisions are made for every slot of the bundle when it is created.
#[cfg(feature = "edge")]
#[wasm_bindgen]
pub struct PageRewriter {
    rewriter: crate::html::SlotRewriter<SlotFill>,
    decisions: Vec<u32>,
}

#[cfg(feature = "edge")]
#[wasm_bindgen]
impl Engine {
    /// Decides every slot of the bundle and returns a rewriter that fills them.
    #[wasm_bindgen(js_name = rewritePage)]
    pub fn rewrite_page(&self, seed_hi: u32, seed_lo: u32) -> PageRewriter {
        let names = self.0.slot_names();
        let seed = (u64::from(seed_hi) << 32) | u64::from(seed_lo);
        let (fills, decisions) = crate::render::web_fills(
            &self.0,
            &Request {
                slots: &names,
                seed,
            },
        );
        let flat = flatten(&decisions);
        let lookup = move |slot: &str| {
            fills
                .iter()
                .find(|(name, _)| name == slot)
                .map(|(_, html)| html.clone())
        };
        PageRewriter {
            rewriter: crate::html::SlotRewriter::new(Box::new(lookup)),
            decisions: flat,
        }
    }
}

#[cfg(feature = "edge")]
#[wasm_bindgen]
impl PageRewriter {
    /// Feeds a chunk of the page; returns the bytes ready to send.
    pub fn write(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + 256);
        self.rewriter.write(chunk, &mut out);
        out
    }

    /// Ends the page; returns what was still buffered.
    pub fn end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.rewriter.end(&mut out);
        out
    }

    /// How many slots of the page were filled so far.
    #[wasm_bindgen(getter)]
    pub fn filled(&self) -> u32 {
        self.rewriter.seen().iter().filter(|s| s.replaced).count() as u32
    }

    /// The decisions for the bundle's slots, flat as in `Engine.decide`.
    #[wasm_bindgen(getter)]
    pub fn decisions(&self) -> Vec<u32> {
        self.decisions.clone()
    }
}

fn flatten(decisions: &[decide::Decision]) -> Vec<u32> {
    let mut out = Vec::with_capacity(decisions.len() * STRIDE);
    for d in decisions {
        out.push(d.content_index.map_or(NO_CONTENT, |i| i + 1));
        out.push(d.reason as u32);
        out.push((d.id >> 32) as u32);
        out.push(d.id as u32);
    }
    out
}

/// The stable code of reason number `n` (as found in `decide`'s output).
#[wasm_bindgen(js_name = reasonCode)]
pub fn reason_code(n: u32) -> String {
    Reason::from_index(n).map_or("", |r| r.code()).into()
}

/// The human sentence for reason number `n`.
#[wasm_bindgen(js_name = reasonText)]
pub fn reason_text(n: u32) -> String {
    Reason::from_index(n).map_or("", |r| r.text()).into()
}
