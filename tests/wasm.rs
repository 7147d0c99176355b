//! The wasm binding, run by wasm-bindgen-test in Node and in headless Chromium
//! (`cargo xtask test` runs this file twice). Same fixture as every other target.
#![cfg(target_arch = "wasm32")]

use slotwise::wasm::{Engine, Visitor, reason_code, wasm_memory};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

const SHOP: &[u8] = include_bytes!("fixtures/shop.swb");

fn error_code(e: JsValue) -> String {
    assert_eq!(
        js_sys::Reflect::get(&e, &"name".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "SlotwiseError"
    );
    js_sys::Reflect::get(&e, &"code".into())
        .unwrap()
        .as_string()
        .unwrap()
}

fn field(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap()
}

/// `Engine.decide` as the package calls it: the slot names and no
/// page context in the input, the records read back from the module's memory.
fn decide(
    engine: &Engine,
    slots: &[&str],
    hi: u32,
    lo: u32,
    v: &mut Visitor,
    now: f64,
) -> Vec<u32> {
    let mut input = vec![slots.len() as u8];
    for s in slots {
        input.push(s.len() as u8);
        input.extend_from_slice(s.as_bytes());
    }
    let at = engine.decide(&input, hi, lo, v, now);
    let memory = js_sys::Uint32Array::new(
        &wasm_memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer(),
    );
    let len = memory.get_index(at / 4) as usize;
    let flat: Vec<u32> = (0..len)
        .map(|k| memory.get_index(at / 4 + 1 + k as u32))
        .collect();
    assert_eq!(flat, engine.decided());
    flat
}

#[wasm_bindgen_test]
fn decides_the_fixture() {
    let engine = Engine::from_bytes(SHOP).unwrap();
    let mut visitor = Visitor::new(&engine, 1, 2, 1_700_000_000.0);
    let flat = decide(
        &engine,
        &["hero", "nope", "offer"],
        1,
        2,
        &mut visitor,
        1_700_000_000.0,
    );
    // Records: [slot+1, content+1, reason, because+1, exp+1, var+1, id hi, id lo,
    //           n, items.., m, rules..]
    let mut at = 0;
    let mut next = || {
        let rec = flat[at..at + 8].to_vec();
        let n = flat[at + 8] as usize;
        let m = flat[at + 9 + n] as usize;
        at += 10 + n + m;
        rec
    };
    let hero = next();
    assert_eq!(hero[0], 1); // slot 0
    assert_eq!(hero[1], 1); // its default content (index 0)
    assert_eq!(reason_code(hero[2]), "default");
    let nope = next();
    assert_eq!((nope[0], nope[1]), (0, 0));
    assert_eq!(reason_code(nope[2]), "unknown_slot");
    let offer = next();
    let content = engine.content(offer[1] - 1);
    assert_eq!(field(&content, "id").as_string().unwrap(), "offer-default");
    assert_eq!(
        field(&content, "title").as_string().unwrap(),
        "Free returns for 60 days"
    );
    assert!(field(&content, "price").is_undefined());
    assert!(!engine.explain(offer[0], offer[2], offer[3]).is_empty());
    // Decision ids differ per slot.
    assert_ne!((hero[6], hero[7]), (offer[6], offer[7]));
    assert_eq!(at, flat.len());
}

#[wasm_bindgen_test]
fn a_tracked_session_changes_the_hero() {
    let engine = Engine::from_bytes(SHOP).unwrap();
    let mut visitor = Visitor::new(&engine, 3, 4, 1_700_000_000.0);
    visitor.track(&engine, 0, "", "running-shoes", 0, 1_700_000_000.0);
    visitor.track(&engine, 0, "sku-road-1", "", 0, 1_700_000_010.0);
    let flat = decide(&engine, &["hero"], 5, 6, &mut visitor, 1_700_000_020.0);
    assert_eq!(reason_code(flat[2]), "rule");
    assert_eq!(flat[8], 1);
    assert_eq!(engine.item_id(flat[9]), "sku-trail-1");
    assert_eq!(
        engine.explain(flat[0], flat[2], flat[3]),
        "Because you have been looking at running shoes."
    );
    // No consent: nothing to store.
    assert!(visitor.to_bytes().is_empty());
    visitor.set_consent(0b11);
    let bytes = visitor.to_bytes();
    let again = Visitor::from_bytes(&engine, &bytes, 0b11).unwrap();
    assert_eq!(again.id(), visitor.id());
}

#[wasm_bindgen_test]
fn bad_bytes_give_typed_errors() {
    let cut = &SHOP[..SHOP.len() / 2];
    assert_eq!(
        error_code(Engine::from_bytes(cut).err().unwrap()),
        "bundle.truncated"
    );
    assert_eq!(
        error_code(Engine::from_bytes(b"<html>").err().unwrap()),
        "bundle.bad_magic"
    );
    let mut v2 = SHOP.to_vec();
    v2[4] = 2;
    assert_eq!(
        error_code(Engine::from_bytes(&v2).err().unwrap()),
        "bundle.unsupported_version"
    );
}
