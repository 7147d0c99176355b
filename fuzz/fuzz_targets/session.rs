//! Fuzzes the SWS1 session decoder: no input may panic; whatever decodes re-encodes
//! within budget and decodes again; tracking more events on it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotwise::session::{self, Event, EventKind};

fuzz_target!(|data: &[u8]| {
    let Ok(mut s) = session::decode(data) else {
        return;
    };
    let bytes = session::encode(&s);
    // Affinities, assignments and the header alone always fit, so shedding reaches it.
    assert!(bytes.len() <= session::BUDGET_BYTES);
    let again = session::decode(&bytes).expect("re-encoded session decodes");
    if data.len() <= session::BUDGET_BYTES {
        assert_eq!(again, s);
    }
    let now = u64::from(data.get(5).copied().unwrap_or(0)) * 60 + 1_800_000_000;
    s.track(&Event::new(EventKind::Purchase).item(1).category(2), now);
    s.track(&Event::new(EventKind::Impression).item(1).slot(0), now);
    let _ = session::decode(&session::encode(&s)).expect("tracked session decodes");
});
