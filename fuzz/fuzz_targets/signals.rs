//! Fuzzes the SWG1 signal batch decoder: no input may panic; whatever decodes re-encodes
//! to a batch that decodes to the same signals, within the size limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotwise::signals;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = signals::decode(data) else {
        return;
    };
    let bytes = signals::encode(&batch).expect("a decoded batch re-encodes");
    assert!(bytes.len() <= signals::MAX_BYTES);
    let again = signals::decode(&bytes).expect("re-encoded batch decodes");
    assert_eq!(again, batch);
    for s in &batch {
        assert!(s.subject.is_none() || s.consent & slotwise::consent::BIT_PERSONALIZATION != 0);
    }
});
