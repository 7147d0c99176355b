//! The host seam natively: the Rust reimplementations of `String(n)`, `Number(s)`,
//! `toLowerCase()` and `RegExp` against the shared vectors (`tests/host_vectors`), which
//! `tests/wasm_rules.rs` checks against the real built-ins in Node and Chromium.

mod host_vectors;

#[test]
fn native_host_seam_matches_javascript() {
    let mut failures = Vec::new();
    for (section, passed, failed) in host_vectors::check() {
        println!(
            "native {section:<12} {passed} passed, {} failed",
            failed.len()
        );
        failures.extend(failed);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
