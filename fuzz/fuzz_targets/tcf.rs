//! Fuzzes the TC string decoder and the consent mapping: no input may panic, and
//! legitimate-interest bits alone never grant personalization.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotwise::consent::{self, Inputs, Policy, tcf};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tc) = tcf::decode(text) else {
        return;
    };
    assert_eq!(tc.version, 2);
    for policy in [
        Policy::default(),
        Policy {
            vendor_id: Some(755),
            ..Policy::default()
        },
    ] {
        let choice = consent::from_tcf(&tc, &policy);
        if choice.personalization == Some(true) {
            assert!(tc.purpose_consent(1) && tc.purpose_consent(5) && tc.purpose_consent(6));
        }
        let _ = consent::resolve(
            &policy,
            &Inputs {
                tcf: Some(&tc),
                gpc: true,
                ..Inputs::default()
            },
        );
    }
});
