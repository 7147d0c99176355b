//! Vectors for the host seam (`src/host.rs`): what JavaScript's `String(n)`,
//! `Number(s)`, `toLowerCase()` and `RegExp.test` return, checked natively
//! (`tests/host_seam.rs`, against the Rust implementations) and in wasm
//! (`tests/wasm_rules.rs`, where they *are* the host's built-ins, in Node and Chromium),
//! so the table is verified against real JavaScript and the native code against it.

#![allow(dead_code)] // each test binary uses a different part

use slotwise::host;

/// (n, String(n))
pub const NUMBER_TO_STRING: &[(f64, &str)] = &[
    (1.0, "1"),
    (-0.0, "0"),
    (-0.5, "-0.5"),
    (0.1 + 0.2, "0.30000000000000004"),
    (1e21, "1e+21"),
    (1.5e-7, "1.5e-7"),
    (0.000001, "0.000001"),
    (123_456_789_012_345_680_000.0, "123456789012345680000"),
    (9_007_199_254_740_993.0, "9007199254740992"),
    (5e-324, "5e-324"),
    (f64::MAX, "1.7976931348623157e+308"),
    (f64::NAN, "NaN"),
    (f64::NEG_INFINITY, "-Infinity"),
];

/// (s, Number(s))
pub const STRING_TO_NUMBER: &[(&str, f64)] = &[
    ("", 0.0),
    ("  42\n", 42.0),
    ("007", 7.0),
    (" 0x1A ", 26.0),
    ("0b101", 5.0),
    ("0o17", 15.0),
    ("-1.5e3", -1500.0),
    (".5", 0.5),
    ("5.", 5.0),
    ("\u{a0}\u{feff}3\u{2028}", 3.0),
    ("-Infinity", f64::NEG_INFINITY),
    ("1e1000", f64::INFINITY),
    ("123456789012345678", 123_456_789_012_345_680.0),
];

/// Strings whose `Number(s)` is NaN.
pub const NOT_A_NUMBER: &[&str] = &[
    "1_000", "1,2", "0x", "infinity", "--1", "1e", "0x1G", "+-1", "-0x10", "\u{85}1",
];

/// (s, s.toLowerCase())
pub const TO_LOWER: &[(&str, &str)] = &[
    ("ÀÉÎ Straße", "àéî straße"),
    ("ΑΣ ΟΔΟΣ", "ας οδος"),
    ("İ", "i\u{307}"),
    ("ÅNGSTRÖM", "ångström"),
];

/// (pattern, case-insensitive, haystack, `new RegExp(pattern, flags).test(haystack)`):
/// the atoms the two engines read differently unless rewritten (`.`, `\s`, `\S`).
pub const REGEX: &[(&str, bool, &str, bool)] = &[
    ("(mobile|tablet)", true, "Android Mobile", true),
    ("^a.c$", false, "abc", true),
    ("^a.c$", false, "a\rc", false),
    ("^a.c$", false, "a\nc", false),
    ("^a.c$", false, "a\u{2028}c", false),
    ("^a[.]c$", false, "a.c", true),
    ("^a\\.c$", false, "abc", false),
    ("^\\s$", false, "\u{a0}", true),
    ("^\\s$", false, "\u{feff}", true),
    ("^\\s$", false, "\u{3000}", true),
    ("^\\s$", false, "\u{85}", false),
    ("^\\S$", false, "\u{a0}", false),
    ("^\\S$", false, "x", true),
    ("^[\\s]$", false, "\u{2029}", true),
    ("^[^\\s]$", false, "\u{2029}", false),
    ("^\\\\s$", false, "\\s", true),
    ("^\\w+$", false, "é", false),
    ("^\\d$", false, "\u{661}", false),
    ("k", true, "\u{212a}", false),
    ("s", true, "\u{17f}", false),
    ("a\\b", false, "aé", true),
    ("^\\x41$", false, "A", true),
    ("^\\u0041$", false, "A", true),
];

/// Runs every vector through `slotwise::host`; returns (section, passed, failures).
pub fn check() -> Vec<(&'static str, usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut tally = |section, results: Vec<(String, bool)>| {
        let passed = results.iter().filter(|r| r.1).count();
        let failed = results.into_iter().filter(|r| !r.1).map(|r| r.0).collect();
        out.push((section, passed, failed));
    };
    tally(
        "String(n)",
        NUMBER_TO_STRING
            .iter()
            .map(|&(n, s)| {
                let got = host::number_to_string(n);
                (format!("String({n}) = {got:?}, not {s:?}"), got == s)
            })
            .collect(),
    );
    tally(
        "Number(s)",
        STRING_TO_NUMBER
            .iter()
            .map(|&(s, n)| {
                let got = host::string_to_number(s);
                (format!("Number({s:?}) = {got}, not {n}"), got == n)
            })
            .chain(NOT_A_NUMBER.iter().map(|&s| {
                let got = host::string_to_number(s);
                (format!("Number({s:?}) = {got}, not NaN"), got.is_nan())
            }))
            .collect(),
    );
    tally(
        "toLowerCase",
        TO_LOWER
            .iter()
            .map(|&(s, l)| {
                let got = host::to_lower(s);
                (
                    format!("{s:?}.toLowerCase() = {got:?}, not {l:?}"),
                    got == l,
                )
            })
            .collect(),
    );
    tally(
        "RegExp.test",
        REGEX
            .iter()
            .map(|&(p, i, h, expected)| {
                let got = host::Regex::new(p, i).map(|re| re.is_match(h));
                let flags = if i { "i" } else { "" };
                (
                    format!("/{p}/{flags}.test({h:?}) = {got:?}, not {expected}"),
                    got == Some(expected),
                )
            })
            .collect(),
    );
    out
}
