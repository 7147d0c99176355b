//! Fuzzes the SWB1 bundle decoder: no input may panic; a decoded bundle re-encodes and
//! decodes to the same bytes (compared as bytes: prices may be NaN).
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotwise::bundle;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = bundle::decode(data) {
        let bytes = bundle::encode(&b);
        let again = bundle::decode(&bytes).expect("re-encoded bundle decodes");
        assert_eq!(bundle::encode(&again), bytes);
    }
});
