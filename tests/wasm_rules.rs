//! The rules engine and experiment hashing in wasm, where `String(n)`, `Number(s)`,
//! `toLowerCase()` and `RegExp` are the JavaScript host's own (`src/host.rs`): replays
//! every vector of the committed GrowthBook corpus (`tests/corpus/growthbook.swt`, the
//! same bytes `tests/growthbook_corpus.rs` replays natively) and checks the host seam
//! against the vectors `tests/host_seam.rs` checks natively (`tests/host_vectors`).
//!
//! Run by wasm-bindgen-test in Node and in headless Chromium (`cargo xtask test`):
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test -p
//! slotwise --target wasm32-unknown-unknown --test wasm_rules` (add
//! `WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver` for Chromium).
#![cfg(target_arch = "wasm32")]

mod gb_corpus;
mod host_vectors;

use slotwise::host;
use slotwise::rules::regex::Pattern;
use slotwise::rules::{Cond, Op, SavedGroups, Test, Value};
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

const CORPUS: &[u8] = include_bytes!("corpus/growthbook.swt");

#[wasm_bindgen_test]
fn every_growthbook_vector_passes_in_wasm() {
    let corpus = gb_corpus::decode(CORPUS);
    let mut failures = Vec::new();
    let mut total = 0;
    for (section, passed, failed) in gb_corpus::run(&corpus) {
        console_log!(
            "wasm {section:<16} {passed} passed, {} failed",
            failed.len()
        );
        assert!(passed > 0, "{section}: no cases");
        total += passed + failed.len();
        failures.extend(failed.into_iter().map(|f| format!("{section}: {f}")));
    }
    console_log!(
        "wasm growthbook corpus: {} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn regex_cond(source: &str) -> Cond {
    let pattern = Pattern::new(source, true).expect("valid pattern");
    Cond::Field {
        path: vec!["ua".into()],
        test: Test::Ops(vec![Op::Regex(pattern)]),
    }
}

#[wasm_bindgen_test]
fn a_decoded_pattern_is_compiled_once_not_per_evaluation() {
    let bytes = postcard::to_allocvec(&regex_cond("(mobile|tablet)")).expect("encodes");
    let before = host::regexes_compiled();
    let cond: Cond = postcard::from_bytes(&bytes).expect("decodes");
    let groups = SavedGroups::default();
    let docs = [
        Value::object(vec![("ua".into(), Value::str("Android Mobile"))]),
        Value::object(vec![("ua".into(), Value::str("Desktop"))]),
    ];
    let mut matched = 0;
    for i in 0..1000 {
        matched += usize::from(cond.eval(&docs[i % 2], &groups));
    }
    let compiled = host::regexes_compiled() - before;
    console_log!("1000 evaluations of a $regexi condition: {compiled} RegExp constructed");
    assert_eq!(matched, 500);
    assert_eq!(compiled, 1);
}

#[wasm_bindgen_test]
fn a_pattern_the_host_refuses_is_a_decode_error_not_an_exception() {
    let mut bytes = postcard::to_allocvec(&regex_cond("ab")).expect("encodes");
    let at = bytes
        .windows(2)
        .position(|w| w == b"ab")
        .expect("pattern bytes");
    bytes[at] = b'(';
    assert!(postcard::from_bytes::<Cond>(&bytes).is_err());
    // Decoding goes on working afterwards (no frame was unwound by a JS exception).
    let ok = postcard::to_allocvec(&regex_cond("ab")).expect("encodes");
    assert!(postcard::from_bytes::<Cond>(&ok).is_ok());
}

#[wasm_bindgen_test]
fn host_built_ins_match_the_shared_vectors() {
    // The same table `tests/host_seam.rs` checks the native implementations against.
    let mut failures = Vec::new();
    for (section, passed, failed) in host_vectors::check() {
        console_log!(
            "wasm {section:<12} {passed} passed, {} failed",
            failed.len()
        );
        failures.extend(failed);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
