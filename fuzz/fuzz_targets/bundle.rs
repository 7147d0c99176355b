//! Any bytes into the bundle decoder: a typed error or a valid bundle, never a panic,
//! and whatever decodes must decide every slot without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotwise::decide::{Engine, Request};

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = slotwise::bundle::decode(data) {
        let names: Vec<String> = bundle.slots.iter().map(|s| s.name.clone()).collect();
        let mut slots: Vec<&str> = names.iter().map(String::as_str).collect();
        slots.push("not-a-slot");
        let engine = Engine::new(bundle);
        let decisions = engine.decide(&Request {
            slots: &slots,
            seed: 1,
        });
        assert_eq!(decisions.len(), slots.len());
    }
});
