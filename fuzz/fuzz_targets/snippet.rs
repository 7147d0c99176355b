//! Fuzzes the SWP1 snippet decoder and the checks after it: no input may panic, and a
//! token that parses re-assembles to exactly the same text (one text form per token).
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotwise::profile::{self, Expect, KeyRing};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parts) = profile::parse_unverified(token) else {
        return;
    };
    let signature: [u8; 64] = parts.signature().try_into().expect("64-byte signature");
    assert!(profile::is_canonical_s(&signature));
    assert_eq!(profile::assemble(parts.message(), &signature), token);
    let mut ring = KeyRing::new();
    ring.insert(parts.key_id(), [0x42; 32]);
    let expect = Expect {
        now: 1_800_000_000,
        audience: "shop.example.com",
    };
    let _ = profile::verify_native(parts.clone(), &ring, expect);
    // A host verdict of "valid" must still run every claim check without panicking.
    let _ = parts.accept_host_verification(true, &ring, expect);
});
