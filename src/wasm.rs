//! JavaScript bindings: the only file that knows about wasm-bindgen.
//!
//! Thin newtype classes over core types: convert the input, call the core, convert
//! the output — nothing else. Bytes cross as `Uint8Array`: the bundle, stored session
//! state, and the page context (postcard-encoded by the package's JS, so no JSON
//! parser ships in the module). Decisions stay in the module's memory as flat `u32`
//! records (`Engine.decide`) that the JS reads in place and turns into objects: one
//! cheap crossing per page, no allocation for the way out.
//! Strings (content, ids, explanations) are fetched lazily and cached by the JS.
//! Errors become a JS `Error` named `SlotwiseError` with a stable `code` property.

use core::cell::RefCell;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::bundle;
use crate::caps::CapScope;
use crate::consent::Consent;
use crate::decide::{self, Reason, Request};
use crate::error::Error;
use crate::hex::u64_hex;
use crate::page_context;
use crate::profile::{self, Expect, KeyRing, VerifiedSnippet};
use crate::rules::Value;
use crate::session::{self, Event, EventKind, Session};
use crate::wire::Reader;

fn js_error(error: Error) -> JsValue {
    let js = js_sys::Error::new(error.detail());
    js.set_name("SlotwiseError");
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
    js.into()
}

/// A decoded bundle ready to decide (`Engine` in JS), with the last request's page
/// context kept for the next one to rewrite in place (`page_context`).
#[wasm_bindgen]
pub struct Engine(
    decide::Engine,
    /// The previous page's context, rewritten in place (builds favouring speed).
    RefCell<Value>,
    /// The previous page's decision memory and shown list (builds favouring speed).
    RefCell<(decide::PageScratch, Vec<CapScope>)>,
    /// The last `decide`'s records, which the package's JS reads in place.
    RefCell<Vec<u32>>,
);

/// One visitor: in-session behaviour (always in memory; stored only with consent),
/// consent, and the id experiments hash (`Visitor` in JS).
#[wasm_bindgen]
pub struct Visitor {
    id: String,
    session: Session,
    consent: Consent,
    profile: Option<VerifiedSnippet>,
    muted: Vec<u16>,
}

/// A profile snippet that passed verification (`Snippet` in JS). It has no
/// constructor: only [`SnippetCheck::accept`] makes one, after WebCrypto said yes.
#[wasm_bindgen]
pub struct Snippet(VerifiedSnippet);

/// A parsed snippet token waiting for its signature check (`SnippetCheck` in JS).
///
/// The package's own JS (never page code: the page API only takes token strings and
/// key rings) calls WebCrypto's
/// `crypto.subtle.verify({name: "Ed25519"}, importKey("raw", key), signature, message)`
/// with the bytes this exposes and hands the verdict to `accept`, the only way to a
/// `Snippet`. (Awaiting the Promise in Rust would ship wasm-bindgen-futures, ~10 KB
/// gzip.) The threat model is a forged or tampered cookie, which this stops; script
/// that can call into the package's internals already controls the page.
#[wasm_bindgen]
pub struct SnippetCheck {
    parts: profile::SignedParts,
    ring: KeyRing,
    key: [u8; 32],
}

/// Parses a profile snippet token against a key ring (`key_ids` and `keys`:
/// base64url raw public keys). Throws a `SlotwiseError` (`snippet.malformed`,
/// `snippet.unknown_key`, ...) before any crypto when the token cannot be valid.
#[wasm_bindgen(js_name = checkSnippet)]
pub fn check_snippet(
    token: &str,
    key_ids: Vec<String>,
    keys: Vec<String>,
) -> Result<SnippetCheck, JsValue> {
    let mut ring = KeyRing::new();
    for (id, key) in key_ids.iter().zip(&keys) {
        ring.insert_base64url(id, key).map_err(js_error)?;
    }
    let parts = profile::parse_unverified(token).map_err(js_error)?;
    let key = *parts.public_key(&ring).map_err(js_error)?;
    Ok(SnippetCheck { parts, ring, key })
}

#[wasm_bindgen]
impl SnippetCheck {
    /// The raw Ed25519 public key to import.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> Vec<u8> {
        self.key.to_vec()
    }

    /// The signature to verify.
    #[wasm_bindgen(getter)]
    pub fn signature(&self) -> Vec<u8> {
        self.parts.signature().to_vec()
    }

    /// The signed message.
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> Vec<u8> {
        self.parts.message().to_vec()
    }

    /// Completes the check with WebCrypto's verdict (`undefined` when the host has no
    /// Ed25519: `snippet.unverifiable`), then expiry and `audience` at `now`.
    pub fn accept(
        self,
        verdict: Option<bool>,
        audience: &str,
        now: f64,
    ) -> Result<Snippet, JsValue> {
        let ok = verdict.ok_or_else(|| js_error(profile::unverifiable()))?;
        let expect = Expect {
            now: secs(now),
            audience,
        };
        self.parts
            .accept_host_verification(ok, &self.ring, expect)
            .map(Snippet)
            .map_err(js_error)
    }
}

fn seed64(hi: u32, lo: u32) -> u64 {
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Unix seconds from a JS millisecond or second timestamp passed as f64.
fn secs(now: f64) -> u64 {
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

#[wasm_bindgen]
impl Engine {
    /// Decodes and validates `SWB1` bytes; throws `SlotwiseError` with a stable code.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Engine, JsValue> {
        bundle::decode(bytes)
            .map(|b| {
                Engine(
                    decide::Engine::new(b),
                    RefCell::new(Value::Null),
                    RefCell::default(),
                    RefCell::default(),
                )
            })
            .map_err(js_error)
    }

    /// The bundle id.
    #[wasm_bindgen(getter, js_name = bundleId)]
    pub fn bundle_id(&self) -> String {
        self.0.bundle().header.id.clone()
    }

    /// The site the bundle is for.
    #[wasm_bindgen(getter)]
    pub fn site(&self) -> String {
        self.0.bundle().header.site.clone()
    }

    /// Key `n` of the top-level page context keys the bundle's conditions read (the
    /// only attributes a request's context needs to carry, see `decide`); undefined
    /// past the last.
    #[wasm_bindgen(js_name = contextKey)]
    pub fn context_key(&self, n: u32) -> Option<String> {
        self.0.context_keys().get(n as usize).cloned()
    }

    /// The index of item `id` in the bundle, or -1.
    #[wasm_bindgen(js_name = itemIndex)]
    pub fn item_index(&self, id: &str) -> i32 {
        self.0.item_index(id).map_or(-1, |i| i as i32)
    }

    /// The index of category `name` in the bundle's vocabulary, or -1.
    #[wasm_bindgen(js_name = categoryIndex)]
    pub fn category_index(&self, name: &str) -> i32 {
        self.0.category_index(name).map_or(-1, |i| i as i32)
    }

    /// Decides the slots listed at the head of `input` for `visitor`: a varint
    /// count, then the slot names (postcard strings), then the page context as postcard-encoded
    /// `rules::Value` bytes (none: no bytes; top-level keys other than `contextKeys`
    /// may be left out, no condition reads them), or as the values of `contextKeys`
    /// in order (`page_context`: the package's form). Input that does not decode
    /// decides no slot. `seed_hi`/`seed_lo`: 64 random bits per page view (decision
    /// ids, exploration).
    ///
    /// The records stay in this engine's memory: the return value is their byte
    /// offset in the module's memory (`wasmMemory()`), where a `u32` count comes
    /// first, then that many `u32`s: one variable-length record per slot, `[slot + 1,
    /// content + 1, reason, because + 1, experiment + 1, variation + 1, id high, id
    /// low, n, item × n, m, matched rule × m]` (0 = none for the `+ 1` fields). They
    /// are valid until the next call into the module: read them first. (A returned
    /// `Vec` cost an allocation, a copy into a new `ArrayBuffer` and a free per page.)
    pub fn decide(
        &self,
        input: &[u8],
        seed_hi: u32,
        seed_lo: u32,
        visitor: &mut Visitor,
        now: f64,
    ) -> u32 {
        let Ok(mut out) = self.3.try_borrow_mut() else {
            return 0;
        };
        out.clear();
        out.push(0);
        let mut r = Reader::new(input);
        // Each name takes at least a byte: the input bounds the loop.
        let count = r.usize().unwrap_or(0);
        // A page asks for a few slots: their names on the stack.
        let mut few = [""; 8];
        let mut many = Vec::new();
        for n in 0..count {
            let Ok(name) = r.str() else {
                return out.as_ptr() as u32;
            };
            match few.get_mut(n) {
                Some(at) => *at = name,
                None => {
                    if many.is_empty() {
                        many.extend_from_slice(&few);
                    }
                    many.push(name);
                }
            }
        }
        let names: &[&str] = if many.is_empty() {
            &few[..count.min(few.len())]
        } else {
            &many
        };
        let context = r.rest();
        self.run(names, seed_hi, seed_lo, context, visitor, now, |_, d| {
            flatten_into(d, &mut out)
        });
        out[0] = (out.len() - 1) as u32;
        out.as_ptr() as u32
    }

    /// Decides, hands the decisions to `f`, then records what was shown in the
    /// visitor's session (frequency caps: in memory; stored only with consent).
    #[allow(clippy::too_many_arguments)]
    fn run<R>(
        &self,
        names: &[&str],
        seed_hi: u32,
        seed_lo: u32,
        context: &[u8],
        visitor: &mut Visitor,
        now: f64,
        f: impl FnOnce(&decide::Engine, &[decide::Decision]) -> R,
    ) -> R {
        // Builds favouring speed rewrite the previous request's context in place.
        let mut kept = self.1.try_borrow_mut().ok().filter(|_| crate::SPEED);
        let mut fresh = Value::Null;
        let page = kept.as_deref_mut().unwrap_or(&mut fresh);
        page_context::decode_into(context, self.0.context_keys(), page);
        let context: &Value = page;
        let request = Request {
            slots: names,
            seed: seed64(seed_hi, seed_lo),
            context,
            visitor: decide::Visitor {
                id: &visitor.id,
                session: Some(&visitor.session),
                profile: visitor.profile.as_ref(),
                consent: visitor.consent,
                now: secs(now),
                muted: &visitor.muted,
            },
        };
        let mut kept = self.2.try_borrow_mut().ok().filter(|_| crate::SPEED);
        let mut fresh = Default::default();
        let (scratch, shown) = kept.as_deref_mut().unwrap_or(&mut fresh);
        let decisions = self.0.decide_reusing(&request, scratch);
        let result = f(&self.0, &decisions);
        shown.clear();
        shown.extend(decisions.iter().flat_map(decide::Decision::shown));
        drop(decisions);
        if !shown.is_empty() {
            visitor.session.record_impression(shown, secs(now));
        }
        result
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

    /// The id of item `index` ("" if none).
    #[wasm_bindgen(js_name = itemId)]
    pub fn item_id(&self, index: u32) -> String {
        self.0
            .bundle()
            .items
            .get(index as usize)
            .map_or_else(String::new, |i| i.id.clone())
    }

    /// The id of rule `rule` of slot `slot` ("" if none).
    #[wasm_bindgen(js_name = ruleId)]
    pub fn rule_id(&self, slot: u32, rule: u32) -> String {
        self.0
            .bundle()
            .slots
            .get(slot as usize)
            .and_then(|s| s.rules.get(rule as usize))
            .map_or_else(String::new, |r| r.id.clone())
    }

    /// Experiment `e`'s key ("" if none).
    #[wasm_bindgen(js_name = experimentKey)]
    pub fn experiment_key(&self, e: u32) -> String {
        self.0
            .bundle()
            .experiments
            .get(e as usize)
            .map_or_else(String::new, |x| x.key.clone())
    }

    /// The name of variation `v` of experiment `e` ("" if none).
    #[wasm_bindgen(js_name = variationName)]
    pub fn variation_name(&self, e: u32, v: u32) -> String {
        self.0
            .bundle()
            .experiments
            .get(e as usize)
            .and_then(|x| x.variations.get(v as usize))
            .map_or_else(String::new, |v| v.name.clone())
    }

    /// The sentence for "why am I seeing this" (`slot`, `because`: as in `decide`'s
    /// output, + 1 encoded, 0 = none).
    pub fn explain(&self, slot: u32, reason: u32, because: u32) -> String {
        let Some(reason) = Reason::from_index(reason) else {
            return String::new();
        };
        self.0
            .explain(slot.checked_sub(1), reason, because.checked_sub(1))
    }
}

#[wasm_bindgen]
impl Visitor {
    /// A new visitor with a random seed from the host's crypto (its id is the seed in
    /// hex) at `now` (Unix seconds).
    #[wasm_bindgen(constructor)]
    pub fn new(engine: &Engine, seed_hi: u32, seed_lo: u32, now: f64) -> Visitor {
        let seed = seed64(seed_hi, seed_lo);
        let mut session = Session::new(seed, secs(now));
        session.set_vocabulary(engine.0.vocabulary());
        Visitor {
            id: u64_hex(seed),
            session,
            consent: Consent::NECESSARY_ONLY,
            profile: None,
            muted: Vec::new(),
        }
    }

    /// This visitor started over as `new Visitor(engine, seed_hi, seed_lo, now)` makes
    /// one, keeping its memory: the package reuses freed visitors, so a server pays no
    /// allocation per request. Nothing of the previous visitor is left. Edge build only
    /// (a page has one visitor).
    #[cfg(feature = "edge")]
    pub fn reset(&mut self, engine: &Engine, seed_hi: u32, seed_lo: u32, now: f64) {
        let Visitor {
            id,
            session,
            consent,
            profile,
            muted,
        } = self;
        let seed = seed64(seed_hi, seed_lo);
        session.restart(seed, secs(now));
        session.set_vocabulary(engine.0.vocabulary());
        id.clear();
        crate::hex::push_u64_hex(id, seed);
        *consent = Consent::NECESSARY_ONLY;
        *profile = None;
        muted.clear();
    }

    /// A visitor restored from stored `SWS1` bytes (read only with consent; state from
    /// another bundle vocabulary is reset). Throws `SlotwiseError` on bad bytes.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(engine: &Engine, bytes: &[u8], consent_bits: u8) -> Result<Visitor, JsValue> {
        let mut session = session::decode(bytes).map_err(js_error)?;
        session.set_vocabulary(engine.0.vocabulary());
        Ok(Visitor {
            id: u64_hex(session.seed()),
            session,
            consent: Consent::from_bits(consent_bits),
            profile: None,
            muted: Vec::new(),
        })
    }

    /// Category indices muted on this device (the preference centre): never shown,
    /// as the snippet's own mutes (`crate::preferences`).
    #[wasm_bindgen(js_name = setMuted)]
    pub fn set_muted(&mut self, categories: Vec<u16>) {
        self.muted = categories;
    }

    /// The id experiments and the holdout hash.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// Hashes the site's own id for this visitor instead of the session seed
    /// (GrowthBook's `hashAttribute`: a logged-in user id, say).
    #[wasm_bindgen(setter)]
    pub fn set_id(&mut self, id: &str) {
        self.id.clear();
        self.id.push_str(id);
    }

    /// Records an event: `kind` 0 view, 1 search, 2 add-to-cart, 3 remove, 4 purchase,
    /// 5 impression, 6 click, 7+ custom; `item` an item id and `category` a category
    /// name ("" for none; an item's category is used when none is given); `value` in
    /// cents.
    pub fn track(
        &mut self,
        engine: &Engine,
        kind: u32,
        item: &str,
        category: &str,
        value: u32,
        now: f64,
    ) {
        let item = engine.item_index(item);
        let category = engine.category_index(category);
        self.track_indexed(engine, kind, item, category, value, now);
    }

    /// `track` with the item and category already looked up (`itemIndex`,
    /// `categoryIndex`; -1 for none): no strings cross.
    #[wasm_bindgen(js_name = trackIndexed)]
    pub fn track_indexed(
        &mut self,
        engine: &Engine,
        kind: u32,
        item: i32,
        category: i32,
        value: u32,
        now: f64,
    ) {
        let mut event = Event::new(EventKind::from_code(kind));
        // Indices outside the bundle's vocabulary count as none.
        let item_index = u32::try_from(item)
            .ok()
            .filter(|&i| engine.0.item_category(i).is_some());
        if let Some(i) = item_index {
            event = event.item(i);
        }
        let category_index = u32::try_from(category)
            .ok()
            .filter(|&c| (c as usize) < engine.0.categories().len())
            .or_else(|| item_index.and_then(|i| engine.0.item_category(i)));
        if let Some(c) = category_index {
            event = event.category(c);
        }
        if value > 0 {
            event = event.value(value);
        }
        self.session.track(&event, secs(now));
    }

    /// Uses a verified snippet's claims (segments, purchases, cross-channel counters)
    /// — only while the visitor allows personalization, which the engine checks.
    #[wasm_bindgen(js_name = setProfile)]
    pub fn set_profile(&mut self, snippet: &Snippet) {
        self.profile = Some(snippet.0.clone());
    }

    /// Forgets the profile snippet.
    #[wasm_bindgen(js_name = clearProfile)]
    pub fn clear_profile(&mut self) {
        self.profile = None;
    }

    /// Whether a verified profile is in use.
    #[wasm_bindgen(getter, js_name = hasProfile)]
    pub fn has_profile(&self) -> bool {
        self.profile.is_some()
    }

    /// Sets consent from its bits (necessary 1, personalization 2, measurement 4,
    /// advertising 8).
    #[wasm_bindgen(js_name = setConsent)]
    pub fn set_consent(&mut self, bits: u8) {
        self.consent = Consent::from_bits(bits);
    }

    /// The consent bits.
    #[wasm_bindgen(getter, js_name = consentBits)]
    pub fn consent_bits(&self) -> u8 {
        self.consent.to_bits()
    }

    /// `SWS1` bytes to store — empty without `personalization` consent, so nothing
    /// can be written to the device without it.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.consent.may_store() {
            session::encode(&self.session)
        } else {
            Vec::new()
        }
    }
}

/// Reads a tri-state from two bits at `shift`: 0 unset, 1 false, 2 true.
fn tri(bits: u32, shift: u32) -> Option<bool> {
    match (bits >> shift) & 3 {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    }
}

/// Resolves consent from every source, in DESIGN.md's precedence: the explicit call
/// (`explicit`: 2 bits each for personalization, measurement, advertising — 0 unset,
/// 1 denied, 2 granted), the IAB TCF v2.2 TC string (`tc_string`, "" for none), Google
/// Consent Mode v2 (`consent_mode`: 2 bits each for ad_storage, analytics_storage,
/// ad_user_data, ad_personalization, functionality_storage, personalization_storage),
/// then the site default (`default_bits`); GPC turns advertising off. `vendor_id` is
/// the site's GVL id (negative: none). Returns the consent bits; throws
/// `SlotwiseError` (`tcf.*`) for a TC string that does not decode.
#[wasm_bindgen(js_name = resolveConsent)]
pub fn resolve_consent(
    explicit: u32,
    tc_string: &str,
    consent_mode: u32,
    gpc: bool,
    default_bits: u8,
    vendor_id: i32,
) -> Result<u8, JsValue> {
    let tcf = if tc_string.is_empty() {
        None
    } else {
        Some(crate::consent::tcf::decode(tc_string).map_err(js_error)?)
    };
    let policy = crate::consent::Policy {
        default: Consent::from_bits(default_bits),
        vendor_id: u16::try_from(vendor_id).ok(),
    };
    let inputs = crate::consent::Inputs {
        explicit: crate::consent::Choice {
            personalization: tri(explicit, 0),
            measurement: tri(explicit, 2),
            advertising: tri(explicit, 4),
        },
        tcf: tcf.as_ref(),
        consent_mode: crate::consent::ConsentMode {
            ad_storage: tri(consent_mode, 0),
            analytics_storage: tri(consent_mode, 2),
            ad_user_data: tri(consent_mode, 4),
            ad_personalization: tri(consent_mode, 6),
            functionality_storage: tri(consent_mode, 8),
            personalization_storage: tri(consent_mode, 10),
        },
        gpc,
    };
    Ok(crate::consent::resolve(&policy, &inputs).consent.to_bits())
}

/// The module's memory (a `WebAssembly.Memory`), where `Engine.decide` leaves its
/// records for the package's JS to read.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

impl Engine {
    /// A copy of the records the last `decide` left (after their count): for Rust
    /// callers, which cannot read the module's memory at an offset.
    pub fn decided(&self) -> Vec<u32> {
        self.3
            .borrow()
            .get(1..)
            .map_or_else(Vec::new, <[u32]>::to_vec)
    }
}

/// The stable code of reason number `n` (as found in `decide`'s output).
#[wasm_bindgen(js_name = reasonCode)]
pub fn reason_code(n: u32) -> String {
    Reason::from_index(n).map_or("", |r| r.code()).into()
}

#[cfg(feature = "edge")]
fn flatten(decisions: &[decide::Decision]) -> Vec<u32> {
    let mut out = Vec::with_capacity(decisions.len() * 12);
    flatten_into(decisions, &mut out);
    out
}

/// Appends `decisions` to `out` as `Engine.decide`'s records.
fn flatten_into(decisions: &[decide::Decision], out: &mut Vec<u32>) {
    let plus_one = |v: Option<u32>| v.map_or(0, |v| v.saturating_add(1));
    for d in decisions {
        out.push(plus_one(d.slot_index));
        out.push(plus_one(d.content_index));
        out.push(d.reason as u32);
        out.push(plus_one(d.because));
        out.push(plus_one(d.variant.map(|v| v.0)));
        out.push(plus_one(d.variant.map(|v| v.1)));
        out.push((d.id >> 32) as u32);
        out.push(d.id as u32);
        out.push(d.items.len() as u32);
        out.extend_from_slice(&d.items);
        out.push(d.matched.len() as u32);
        out.extend_from_slice(&d.matched);
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
    /// The last chunk's output when it was not the chunk itself (see `feed`); kept
    /// to be reused, so a page costs no allocation per chunk.
    out: Vec<u8>,
}

#[cfg(feature = "edge")]
#[wasm_bindgen]
impl Engine {
    /// Decides every slot of the bundle for `visitor` (page context as in `decide`)
    /// and returns a rewriter that fills the slots that got personalized content;
    /// slots that show their default keep the page's own markup.
    #[wasm_bindgen(js_name = rewritePage)]
    pub fn rewrite_page(
        &self,
        seed_hi: u32,
        seed_lo: u32,
        context: &[u8],
        visitor: &mut Visitor,
        now: f64,
    ) -> PageRewriter {
        let names = self.0.slot_names();
        let (flat, fills) = self.run(&names, seed_hi, seed_lo, context, visitor, now, |e, d| {
            (flatten(d), crate::render::web_fills(e, d))
        });
        let lookup = move |slot: &str| {
            fills
                .iter()
                .find(|(name, _)| name == slot)
                .map(|(_, html)| html.clone())
        };
        PageRewriter {
            rewriter: crate::html::SlotRewriter::new(Box::new(lookup)),
            decisions: flat,
            out: Vec::new(),
        }
    }

    /// The name of slot `index` ("" if none): the edge names the slots of the
    /// decisions it hands to the browser.
    #[wasm_bindgen(js_name = slotName)]
    pub fn slot_name(&self, index: u32) -> String {
        self.0
            .bundle()
            .slots
            .get(index as usize)
            .map_or_else(String::new, |s| s.name.clone())
    }
}

#[cfg(feature = "edge")]
#[wasm_bindgen]
impl PageRewriter {
    /// Feeds a chunk of the page without copying the result out: returns `n` ≥ 0
    /// when the bytes ready to send are the chunk's first `n` (send a view of it;
    /// most chunks), or -1 when they differ (a slot in it): `take()` gives them.
    pub fn feed(&mut self, chunk: &[u8]) -> i32 {
        self.out.clear();
        // Room for the chunk and some fill at once (`take` hands the buffer over).
        self.out.reserve(chunk.len() + 4096);
        if self.rewriter.write_unchanged(chunk, &mut self.out) {
            self.out.len() as i32
        } else {
            -1
        }
    }

    /// The bytes ready to send after a `feed` that returned -1.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Ends the page; returns what was still buffered.
    pub fn end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.rewriter.end(&mut out);
        out
    }

    /// The whole page at once, filled and ended, followed by `tail`: for a page the
    /// origin had sent whole before the response began. The bytes stay in the
    /// module's memory (`wasmMemory()`): the offset returned holds their length as a
    /// little-endian `u32`, then the bytes. They are valid until the next call into
    /// the module, which is time enough to copy them into a `Blob` for the response:
    /// the page is copied in once and out once.
    #[wasm_bindgen(js_name = fillAll)]
    pub fn fill_all(&mut self, page: &[u8], tail: &[u8]) -> u32 {
        self.out.clear();
        self.out.reserve(4 + page.len() + tail.len() + 4096);
        self.out.extend_from_slice(&[0; 4]);
        self.rewriter.write_whole(page, &mut self.out);
        self.out.extend_from_slice(tail);
        let len = (self.out.len() - 4) as u32;
        self.out[..4].copy_from_slice(&len.to_le_bytes());
        self.out.as_ptr() as u32
    }

    /// How many of the last bytes written are held back (an unfinished tag): if the
    /// caller stops using the rewriter, it writes them out raw and loses nothing.
    #[wasm_bindgen(getter)]
    pub fn held(&self) -> u32 {
        self.rewriter.held() as u32
    }

    /// How many slots of the page were filled so far.
    #[wasm_bindgen(getter)]
    pub fn filled(&self) -> u32 {
        self.rewriter.filled() as u32
    }

    /// The decisions for the bundle's slots, flat as in `Engine.decide`.
    #[wasm_bindgen(getter)]
    pub fn decisions(&self) -> Vec<u32> {
        self.decisions.clone()
    }
}

#[cfg(feature = "edge")]
#[wasm_bindgen]
impl Snippet {
    /// When the snippet expires (Unix seconds): how long an edge worker may keep it
    /// verified in its per-isolate cache.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> f64 {
        self.0.claims().expires_at as f64
    }
}
