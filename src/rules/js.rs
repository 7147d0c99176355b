//! JavaScript's coercions, exactly where GrowthBook's condition semantics rely on them:
//! `String(v)`, `Number(v)`, truthiness, the relational operators, `===`, and
//! GrowthBook's `paddedVersionString`.
//!
//! GrowthBook evaluates conditions in JavaScript, so `{"n": {"$gt": 5}}` matches
//! `{"n": "8"}` and `{"id": "123"}` matches `{"id": 123}`. To give the same answer
//! everywhere we reproduce those coercions here, without `format!` (natively, numbers
//! are printed with `ryu` and re-laid out as ECMAScript's Number::toString does).
//!
//! Host seam: [`number_to_string`], [`string_to_number`] and [`lower`] are the only
//! functions here that need tables or float algorithms (ryu, core's decimal parser,
//! Unicode lower-case tables). In a JavaScript host they are exactly `String(n)`,
//! `Number(s)` and `toLowerCase()`, so they go through [`crate::host`]: the Rust
//! implementations below natively, the host's built-ins in wasm.

use core::cmp::Ordering;

use super::value::Value;

/// ECMAScript `Number::toString(n)` (radix 10): [`crate::host::number_to_string`].
///
/// ```
/// use slotwise::rules::js::number_to_string;
/// assert_eq!(number_to_string(1.0), "1");
/// assert_eq!(number_to_string(-0.5), "-0.5");
/// assert_eq!(number_to_string(1e21), "1e+21");
/// assert_eq!(number_to_string(1.5e-7), "1.5e-7");
/// assert_eq!(number_to_string(123456789012345680000.0), "123456789012345680000");
/// assert_eq!(number_to_string(f64::NAN), "NaN");
/// ```
pub fn number_to_string(n: f64) -> String {
    crate::host::number_to_string(n)
}

/// The native `Number::toString`: ryu's shortest digits, laid out as ECMAScript does.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n == 0.0 {
        return "0".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    let mut buf = ryu::Buffer::new();
    let printed = buf.format_finite(n.abs());
    // Decompose ryu's output into significant digits and a decimal exponent.
    let (mantissa, exp) = match printed.find(['e', 'E']) {
        Some(i) => (&printed[..i], parse_i32(&printed[i + 1..])),
        None => (printed, 0),
    };
    let mut digits: Vec<u8> = Vec::with_capacity(20);
    let mut point: i32 = 0; // digits before the decimal point in `mantissa`
    let mut seen_point = false;
    for &c in mantissa.as_bytes() {
        if c == b'.' {
            seen_point = true;
        } else {
            digits.push(c);
            if !seen_point {
                point += 1;
            }
        }
    }
    // Strip leading zeros (each shifts the point) and trailing zeros.
    let lead = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..lead);
    point -= lead as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    // Value = 0.d1d2..dk × 10^n, ECMAScript's (k, n).
    let k = digits.len() as i32;
    let n = point + exp;
    let push_digits = |out: &mut String, d: &[u8]| {
        for &c in d {
            out.push(c as char);
        }
    };
    if k <= n && n <= 21 {
        push_digits(&mut out, &digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        push_digits(&mut out, &digits[..n as usize]);
        out.push('.');
        push_digits(&mut out, &digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        push_digits(&mut out, &digits);
    } else {
        push_digits(&mut out, &digits[..1]);
        if k > 1 {
            out.push('.');
            push_digits(&mut out, &digits[1..]);
        }
        out.push('e');
        let e = n - 1;
        out.push(if e < 0 { '-' } else { '+' });
        push_u64(&mut out, u64::from(e.unsigned_abs()));
    }
    out
}

#[cfg(not(target_arch = "wasm32"))]
fn parse_i32(s: &str) -> i32 {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i32 = 0;
    for c in body.bytes() {
        v = v
            .saturating_mul(10)
            .saturating_add(i32::from(c.wrapping_sub(b'0')));
    }
    if neg { -v } else { v }
}

/// Appends the decimal digits of `v`.
pub(crate) fn push_u64(out: &mut String, mut v: u64) {
    // Digits from the right into a buffer (no indexing, so no bounds-check panics).
    let mut tmp = [0u8; 20];
    let mut len = 0;
    for slot in tmp.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
        len += 1;
        if v == 0 {
            break;
        }
    }
    for &c in tmp.iter().skip(tmp.len() - len) {
        out.push(c as char);
    }
}

/// ECMAScript `String(v)` for a document value (`[1,[2,null]]` → `"1,2,"`, objects →
/// `"[object Object]"`).
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_string(&mut out, v);
    out
}

fn write_string(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&number_to_string(*n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => write_join(out, items),
        Value::Object(_) => out.push_str("[object Object]"),
    }
}

// Array.prototype.join(","): null elements print as "".
fn write_join(out: &mut String, items: &[Value]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !matches!(item, Value::Null) {
            write_string(out, item);
        }
    }
}

/// ECMAScript `ToNumber(v)`.
///
/// ```
/// use slotwise::rules::{js::to_number, Value};
/// assert_eq!(to_number(&Value::str(" 0x1A ")), 26.0);
/// assert_eq!(to_number(&Value::Null), 0.0);
/// assert!(to_number(&Value::str("1,2")).is_nan());
/// ```
pub fn to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => *n,
        Value::String(s) => string_to_number(s),
        Value::Array(_) => string_to_number(&to_string(v)),
        Value::Object(_) => f64::NAN,
    }
}

/// ECMAScript's WhiteSpace and LineTerminator code points (what `trim` removes).
#[cfg(not(target_arch = "wasm32"))]
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// ECMAScript `StringToNumber`: trims, accepts `Infinity`, `0x`/`0o`/`0b` literals and
/// decimal literals; anything else is `NaN`; the empty string is `0`
/// ([`crate::host::string_to_number`]).
///
/// ```
/// use slotwise::rules::js::string_to_number;
/// assert_eq!(string_to_number(" -1.5e3\n"), -1500.0);
/// assert_eq!(string_to_number(""), 0.0);
/// assert!(string_to_number("1_000").is_nan());
/// ```
pub fn string_to_number(s: &str) -> f64 {
    crate::host::string_to_number(s)
}

/// The native `StringToNumber`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn parse_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    let b = t.as_bytes();
    if b.len() > 2 && b[0] == b'0' {
        let radix = match b[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => 0,
        };
        if radix != 0 {
            let mut acc = 0.0f64;
            for &c in &b[2..] {
                match (c as char).to_digit(radix) {
                    Some(d) => acc = acc * f64::from(radix) + f64::from(d),
                    None => return f64::NAN,
                }
            }
            return acc;
        }
    }
    let (sign, body) = match b[0] {
        b'+' => (1.0, &t[1..]),
        b'-' => (-1.0, &t[1..]),
        _ => (1.0, t),
    };
    if body == "Infinity" {
        return sign * f64::INFINITY;
    }
    if !is_decimal_literal(body.as_bytes()) {
        return f64::NAN;
    }
    match body.parse::<f64>() {
        Ok(v) => sign * v,
        Err(_) => f64::NAN,
    }
}

// StrUnsignedDecimalLiteral: (digits [. digits?] | . digits) ([eE] [+-]? digits)?
#[cfg(not(target_arch = "wasm32"))]
fn is_decimal_literal(b: &[u8]) -> bool {
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == b.len()
}

/// JavaScript truthiness (`!!v`).
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Compares strings the way JavaScript does: by UTF-16 code units.
///
/// ```
/// use slotwise::rules::js::cmp_utf16;
/// use core::cmp::Ordering;
/// // U+FF61 sorts after U+1F600 in UTF-16 (0xD83D…), though before it by code point.
/// assert_eq!(cmp_utf16("\u{ff61}", "\u{1f600}"), Ordering::Greater);
/// assert_eq!(cmp_utf16("ab", "abc"), Ordering::Less);
/// ```
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A primitive as seen by the relational operators after `ToPrimitive`: either a
/// string, or something that will be compared as a number.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Prim {
    /// Compared as a string when the other side is a string too.
    Str(String),
    /// Compared as a number.
    Num(f64),
}

impl Prim {
    /// `ToPrimitive(v)`, with `null`/booleans already converted to their numbers.
    pub fn of(v: &Value) -> Prim {
        match v {
            Value::String(s) => Prim::Str(s.clone()),
            Value::Array(_) | Value::Object(_) => Prim::Str(to_string(v)),
            other => Prim::Num(to_number(other)),
        }
    }

    fn number(&self) -> f64 {
        match self {
            Prim::Str(s) => string_to_number(s),
            Prim::Num(n) => *n,
        }
    }
}

/// The four relational operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Rel {
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

impl Rel {
    /// Applies the operator to an ordering (`None`: incomparable, e.g. NaN → false).
    pub fn holds(self, ord: Option<Ordering>) -> bool {
        match (self, ord) {
            (_, None) => false,
            (Rel::Lt, Some(o)) => o == Ordering::Less,
            (Rel::Lte, Some(o)) => o != Ordering::Greater,
            (Rel::Gt, Some(o)) => o == Ordering::Greater,
            (Rel::Gte, Some(o)) => o != Ordering::Less,
        }
    }
}

/// `actual <op> expected` with JavaScript's abstract relational comparison.
///
/// ```
/// use slotwise::rules::js::{relate, Prim, Rel};
/// use slotwise::rules::Value;
/// assert!(relate(&Value::str("8"), Rel::Gt, &Prim::Num(5.0)));   // numeric
/// assert!(!relate(&Value::str("10"), Rel::Gt, &Prim::Str("9".into()))); // both strings
/// assert!(relate(&Value::Null, Rel::Lt, &Prim::Num(10.0)));      // null is 0
/// ```
pub fn relate(actual: &Value, op: Rel, expected: &Prim) -> bool {
    let ord = match (actual, expected) {
        (Value::String(a), Prim::Str(b)) => Some(cmp_utf16(a, b)),
        (Value::Array(_) | Value::Object(_), Prim::Str(b)) => {
            Some(cmp_utf16(&to_string(actual), b))
        }
        _ => Prim::of(actual).number().partial_cmp(&expected.number()),
    };
    op.holds(ord)
}

/// GrowthBook's `paddedVersionString`: strips a leading `v` and build metadata, splits
/// on `-` and `.`, appends `~` to plain `x.y.z`, left-pads numeric parts to width 5.
/// Versions then compare as strings.
///
/// ```
/// use slotwise::rules::js::padded_version;
/// use slotwise::rules::Value;
/// assert_eq!(padded_version(&Value::str("v1.2.3+build")), "    1-    2-    3-~");
/// assert!(padded_version(&Value::str("1.0.0-rc.1")) < padded_version(&Value::str("1.0.0")));
/// ```
pub fn padded_version(v: &Value) -> String {
    let owned;
    let input: &str = match v {
        Value::String(s) if !s.is_empty() => s,
        Value::Number(n) => {
            owned = number_to_string(*n);
            &owned
        }
        _ => "0",
    };
    let mut s = input.strip_prefix('v').unwrap_or(input);
    // `\+.*$`: the first `+` with no line terminator after it, to the end. (Checked
    // splitting and `get` below: no panicking string slicing, which would pull the
    // panic message formatting into the wasm module.)
    let is_lt = |c: char| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
    for (i, c) in s.char_indices() {
        if c == '+'
            && let Some((head, tail)) = s.split_at_checked(i)
            && !tail.contains(is_lt)
        {
            s = head;
            break;
        }
    }
    // Split on `-` and `.` (ASCII, so every cut is a char boundary), pad numeric parts,
    // join with `-`; a plain `x.y.z` gets a fourth part `~`.
    let cuts = s
        .bytes()
        .enumerate()
        .filter(|(_, b)| matches!(b, b'-' | b'.'))
        .map(|(i, _)| i)
        .chain([s.len()]);
    let mut out = String::with_capacity(s.len() + 16);
    let (mut start, mut parts) = (0, 0);
    for end in cuts {
        if parts > 0 {
            out.push('-');
        }
        let p = s.get(start..end).unwrap_or_default();
        if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) {
            for _ in p.len()..5 {
                out.push(' ');
            }
        }
        out.push_str(p);
        start = end + 1;
        parts += 1;
    }
    if parts == 3 {
        out.push_str("-~");
    }
    out
}

/// JavaScript `toLowerCase` (full Unicode lowercase mapping): [`crate::host::to_lower`].
pub fn lower(s: &str) -> String {
    crate::host::to_lower(s)
}
