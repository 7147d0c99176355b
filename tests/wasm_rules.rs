//! The rules engine and experiment hashing in wasm, where `String(n)`, `Number(s)`,
//! `toLowerCase()` and `RegExp` are the JavaScript host's own (`src/host.rs`): replays
//! every vector of the committed GrowthBook corpus (`tests/corpus/growthbook.swt`, the
//! same bytes `tests/growthbook_corpus.rs` replays natively) and checks the host seam.
//!
//! Run by wasm-bindgen-test in Node and in headless Chromium (`cargo xtask test`):
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test -p
//! slotwise --target wasm32-unknown-unknown --test wasm_rules` (add
//! `WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver` for Chromium).
#![cfg(target_arch = "wasm32")]

mod gb_corpus;

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
fn host_built_ins_agree_with_the_native_implementations() {
    // Expected strings are what the native implementations print (see src/rules/js.rs).
    for (n, s) in [
        (1.0, "1"),
        (-0.0, "0"),
        (-0.5, "-0.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (123_456_789_012_345_680_000.0, "123456789012345680000"),
        (9_007_199_254_740_993.0, "9007199254740992"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Infinity"),
    ] {
        assert_eq!(host::number_to_string(n), s, "String({n})");
    }
    for (s, n) in [
        ("", 0.0),
        ("  42\n", 42.0),
        ("007", 7.0),
        (" 0x1A ", 26.0),
        ("0b101", 5.0),
        ("-1.5e3", -1500.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("\u{a0}\u{feff}3\u{2028}", 3.0),
        ("-Infinity", f64::NEG_INFINITY),
        ("1e1000", f64::INFINITY),
        ("123456789012345678", 123_456_789_012_345_680.0),
    ] {
        assert_eq!(host::string_to_number(s), n, "Number({s:?})");
    }
    for s in ["1_000", "1,2", "0x", "infinity", "--1", "1e", "0x1G", "+-1"] {
        assert!(host::string_to_number(s).is_nan(), "Number({s:?})");
    }
    for (s, l) in [
        ("ÀÉÎ Straße", "àéî straße"),
        ("ΑΣ ΟΔΟΣ", "ας οδος"),
        ("İ", "i\u{307}"),
        ("ÅNGSTRÖM", "ångström"),
    ] {
        assert_eq!(host::to_lower(s), l, "{s:?}.toLowerCase()");
    }
}
