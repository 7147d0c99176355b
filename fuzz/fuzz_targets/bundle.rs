//! Any bytes into the bundle decoder: a typed error or a valid bundle, never a panic.
//! A decoded bundle re-encodes and decodes to the same bytes (compared as bytes:
//! prices may be NaN), and deciding every slot of it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotwise::bundle;
use slotwise::decide::{Engine, Request};

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = bundle::decode(data) {
        let bytes = bundle::encode(&b);
        let again = bundle::decode(&bytes).expect("re-encoded bundle decodes");
        assert_eq!(bundle::encode(&again), bytes);

        let names: Vec<String> = b.slots.iter().map(|s| s.name.clone()).collect();
        let mut slots: Vec<&str> = names.iter().map(String::as_str).collect();
        slots.push("not-a-slot");
        let engine = Engine::new(b);
        let decisions = engine.decide(&Request::new(&slots, 1));
        assert_eq!(decisions.len(), slots.len());
    }
});
