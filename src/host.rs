//! The host seam: the few JavaScript built-ins the rules engine depends on, with one
//! signature on every target.
//!
//! GrowthBook's condition semantics are JavaScript's: `String(n)`, `Number(s)`,
//! `s.toLowerCase()` and `new RegExp(source, flags).test(s)`. Natively (origin, CLI,
//! tests) they are reimplemented in Rust (ryu, core's float parser, Unicode tables,
//! `regex-lite`). In wasm32 the module always runs inside a JavaScript host that has
//! them built in, so they are called through js-sys: exact by construction, and
//! ~50 KB gzip of tables and algorithms never ship (see `xtask size`).
//!
//! Cheap, exactly equivalent fast paths (ASCII lower-casing, safe integers) stay in Rust
//! on every target to avoid a boundary crossing for the common cases.
//!
//! ```
//! use slotwise::host;
//! assert_eq!(host::number_to_string(1e21), "1e+21");
//! assert_eq!(host::number_to_string(0.1 + 0.2), "0.30000000000000004");
//! assert_eq!(host::string_to_number(" 0x1A "), 26.0);
//! assert_eq!(host::to_lower("ÀB"), "àb");
//! let re = host::Regex::new("^(mobile|tablet)", true).unwrap();
//! assert!(re.is_match("Mobile Safari"));
//! ```

/// `String(n)` for a number (ECMAScript `Number::toString(n)`, radix 10).
pub fn number_to_string(n: f64) -> String {
    // Safe integers (and -0) print as their digits: no crossing for the usual case.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        let mut out = String::new();
        if n < 0.0 {
            out.push('-');
        }
        crate::rules::js::push_u64(&mut out, n.abs() as u64);
        return out;
    }
    imp::number_to_string(n)
}

/// `Number(s)` for a string (ECMAScript `StringToNumber`): trims JavaScript white
/// space; `""` is 0; `Infinity`, `0x`/`0o`/`0b` and decimal literals; otherwise NaN.
pub fn string_to_number(s: &str) -> f64 {
    // Short plain digit strings are exact integers: no crossing for the usual case.
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
        return b
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')) as f64;
    }
    imp::string_to_number(s)
}

/// `s.toLowerCase()` (full Unicode lower-case mapping).
pub fn to_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    imp::to_lower(s)
}

/// A compiled regular expression: `regex-lite` natively, the host's `RegExp` in wasm
/// (compiled once, when the pattern is created or decoded; matching reuses it).
#[derive(Clone)]
pub struct Regex(imp::Regex);

impl Regex {
    /// Compiles `source` with the flags `""` or `"i"`; `None` if the engine refuses it.
    pub fn new(source: &str, insensitive: bool) -> Option<Regex> {
        imp::compile(source, insensitive).map(Regex)
    }

    /// `RegExp.prototype.test`: whether the pattern matches anywhere in `haystack`.
    pub fn is_match(&self, haystack: &str) -> bool {
        imp::is_match(&self.0, haystack)
    }
}

/// How many regular expressions this thread has compiled so far (a diagnostic: tests
/// check that evaluating a `$regex` condition does not compile its pattern again).
pub fn regexes_compiled() -> u32 {
    COMPILED.with(core::cell::Cell::get)
}

/// `Math.log(x)`: natural logarithm (libm natively, the host's `Math` in wasm, which
/// keeps ~9 KB of libm out of the module; results may differ in the last bit across
/// hosts, which only exploration noise and affinity decay use).
pub fn ln(x: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Math::log(x);
    #[cfg(not(target_arch = "wasm32"))]
    x.ln()
}

/// `Math.cos(x)`.
pub fn cos(x: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Math::cos(x);
    #[cfg(not(target_arch = "wasm32"))]
    x.cos()
}

/// `Math.pow(x, y)`.
pub fn pow(x: f64, y: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Math::pow(x, y);
    #[cfg(not(target_arch = "wasm32"))]
    x.powf(y)
}

std::thread_local! {
    static COMPILED: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

fn count_compile() {
    COMPILED.with(|c| c.set(c.get().saturating_add(1)));
}

/// Native: the Rust reimplementations.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(super) type Regex = regex_lite::Regex;

    pub(super) fn number_to_string(n: f64) -> String {
        crate::rules::js::format_number(n)
    }

    pub(super) fn string_to_number(s: &str) -> f64 {
        crate::rules::js::parse_number(s)
    }

    pub(super) fn to_lower(s: &str) -> String {
        s.to_lowercase()
    }

    pub(super) fn compile(source: &str, insensitive: bool) -> Option<Regex> {
        super::count_compile();
        regex_lite::RegexBuilder::new(&js_to_rust(source))
            .case_insensitive(insensitive)
            .build()
            .ok()
    }

    /// JavaScript's white space and line terminators (`\s` in a `RegExp`), as the body of
    /// a Rust character class.
    const JS_SPACE: &str = r"\t\n\x0B\x0C\r \xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

    /// Rewrites the two atoms the engines read differently in every pattern: `.` (in
    /// JavaScript it excludes `\r`, U+2028 and U+2029 too) and `\s`/`\S` (Unicode white
    /// space in JavaScript, ASCII in `regex-lite`). Everything else is passed through:
    /// the compiler refuses the remaining differences ([`crate::rules::regex::js_compatible`]).
    /// Left as is: JavaScript matches UTF-16 code units, so `.` or `[^a]` see half of
    /// an astral character (an emoji) there and a whole one here.
    pub(super) fn js_to_rust(source: &str) -> String {
        let mut out = String::with_capacity(source.len() + 16);
        let mut in_class = false;
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('s') if in_class => out.push_str(JS_SPACE),
                    Some('s') => {
                        out.push('[');
                        out.push_str(JS_SPACE);
                        out.push(']');
                    }
                    // Inside a class `\S` stays ASCII (a class cannot hold a negated
                    // one); the compiler refuses it there.
                    Some('S') if !in_class => {
                        out.push_str("[^");
                        out.push_str(JS_SPACE);
                        out.push(']');
                    }
                    Some(e) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => out.push('\\'),
                },
                '[' if !in_class => {
                    in_class = true;
                    out.push('[');
                    // A leading `^` stays where it is.
                    if chars.as_str().starts_with('^') {
                        out.push('^');
                        chars.next();
                    }
                }
                ']' if in_class => {
                    in_class = false;
                    out.push(']');
                }
                '.' if !in_class => out.push_str(r"[^\n\r\x{2028}\x{2029}]"),
                _ => out.push(c),
            }
        }
        out
    }

    pub(super) fn is_match(re: &Regex, haystack: &str) -> bool {
        re.is_match(haystack)
    }
}

/// wasm32: the JavaScript host's built-ins, through js-sys.
#[cfg(target_arch = "wasm32")]
mod imp {
    use js_sys::{Array, Function, JsString, Number, Reflect, RegExp};
    use wasm_bindgen::JsValue;

    pub(super) type Regex = RegExp;

    pub(super) fn number_to_string(n: f64) -> String {
        // Number.prototype.toString(10) is Number::toString(n), i.e. String(n).
        Number::from(n)
            .to_string(10)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }

    pub(super) fn string_to_number(s: &str) -> f64 {
        // Unary plus on a string is ToNumber, i.e. Number(s); it never throws.
        JsValue::from_str(s).unchecked_into_f64()
    }

    pub(super) fn to_lower(s: &str) -> String {
        JsString::from(s)
            .to_lower_case()
            .as_string()
            .unwrap_or_default()
    }

    std::thread_local! {
        // The RegExp constructor, for `Reflect.construct`, which reports a syntax error
        // as a value instead of throwing through the wasm frames.
        static CTOR: Function = RegExp::new("", "").constructor();
    }

    pub(super) fn compile(source: &str, insensitive: bool) -> Option<Regex> {
        super::count_compile();
        let args = Array::of2(
            &JsValue::from_str(source),
            &JsValue::from_str(if insensitive { "i" } else { "" }),
        );
        let re = CTOR.with(|ctor| Reflect::construct(ctor, &args)).ok()?;
        re.dyn_into::<RegExp>().ok()
    }

    std::thread_local! {
        // `RegExp.prototype.test`, called on a string already in JavaScript.
        static TEST: Option<Function> = Reflect::get(&RegExp::new("", ""), &"test".into())
            .ok()
            .and_then(|f| f.dyn_into().ok());

        // The last haystack and its JavaScript copy: the rules of a page test several
        // patterns against the same attribute (the path), and the UTF-8 → UTF-16
        // copy costs more than the match. Only the conversion is reused, never a
        // result.
        static HAYSTACK: core::cell::Cell<Option<(String, JsString)>> =
            const { core::cell::Cell::new(None) };
    }

    pub(super) fn is_match(re: &Regex, haystack: &str) -> bool {
        TEST.with(|test| {
            let Some(test) = test else {
                return re.test(haystack);
            };
            HAYSTACK.with(|cell| {
                let (text, js) = match cell.take() {
                    Some((text, js)) if text == haystack => (text, js),
                    _ => (haystack.to_owned(), JsString::from(haystack)),
                };
                let found = test.call1(re, &js).ok().and_then(|v| v.as_bool());
                cell.set(Some((text, js)));
                found == Some(true)
            })
        })
    }

    use wasm_bindgen::JsCast;
}
