//! The wasm binding, run by wasm-bindgen-test in Node and in headless Chromium
//! (`cargo xtask test` runs this file twice). Same fixture as every other target.
#![cfg(target_arch = "wasm32")]

use slotwise::wasm::{Engine, reason_code, reason_text};
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

#[wasm_bindgen_test]
fn decides_the_fixture() {
    let engine = Engine::from_bytes(SHOP).unwrap();
    let flat = engine.decide("hero,nope,offer", 1, 2);
    assert_eq!(flat.len(), 12);
    // hero: default content (index 0 → 1 in the output), reason "default".
    assert_eq!(flat[0], 1);
    assert_eq!(reason_code(flat[1]), "default");
    assert!(!reason_text(flat[1]).is_empty());
    // unknown slot keeps the page markup, with a reason.
    assert_eq!(flat[4], 0);
    assert_eq!(reason_code(flat[5]), "unknown_slot");
    let offer = engine.content(flat[8] - 1);
    assert_eq!(field(&offer, "id").as_string().unwrap(), "offer-default");
    assert_eq!(
        field(&offer, "title").as_string().unwrap(),
        "Free returns for 60 days"
    );
    assert!(field(&offer, "price").is_undefined());
    // Decision ids differ per slot.
    assert_ne!((flat[2], flat[3]), (flat[6], flat[7]));
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
