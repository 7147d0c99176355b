//! Regular expressions for `$regex` / `$regexi`, behind one small type.
//!
//! A [`Pattern`] is validated when a condition is compiled and again when a bundle is
//! decoded (serialization stores only the source and the flag), so evaluation never
//! meets an invalid pattern. Matching is unanchored, like JavaScript's `RegExp.test`.
//!
//! Engine: [`crate::host::Regex`] — `regex-lite` natively, the host's `RegExp` (flags
//! `""` or `"i"`, exactly GrowthBook's engine) in wasm, compiled once per decoded
//! pattern. GrowthBook authors write JavaScript regexes; the compiler (native, at build
//! time) accepts only the subset both engines read the same way ([`js_compatible`], then
//! `regex-lite`): classes, alternation, anchors, quantifiers, groups. Look-around and
//! back-references are rejected at build time.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::host::Regex;

/// A compiled, validated pattern with its source.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    insensitive: bool,
    re: Regex,
}

impl Pattern {
    /// Compiles `source` (case-insensitively if asked).
    ///
    /// ```
    /// use slotwise::rules::regex::Pattern;
    /// let p = Pattern::new("(mobile|tablet)", true).unwrap();
    /// assert!(p.is_match("Android Mobile Browser"));
    /// assert!(Pattern::new("???***[)", false).is_err());
    /// ```
    pub fn new(source: &str, insensitive: bool) -> Result<Pattern, Error> {
        let re = Regex::new(source, insensitive)
            .ok_or(Error::new(ErrorKind::Invalid, "invalid regular expression"))?;
        Ok(Pattern {
            source: source.into(),
            insensitive,
            re,
        })
    }

    /// Whether the pattern matches anywhere in `haystack`.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.re.is_match(haystack)
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether matching ignores case.
    pub fn insensitive(&self) -> bool {
        self.insensitive
    }
}

/// Refuses pattern syntax that JavaScript's `RegExp` (no `u` flag, GrowthBook's
/// engine) and the Rust engine would read differently, so a pattern that builds
/// behaves the same natively and through the host's `RegExp` in wasm (natively, `.`
/// and `\s`/`\S` are rewritten to JavaScript's meaning: see `crate::host`):
/// inline flags and `(?P<…>)` (errors in JavaScript), letter escapes other than
/// `\d \D \w \W \s \S \b \B \n \r \t \f \v \x \u` (JavaScript reads `\A` as `A`),
/// `\x{…}`, `\u{…}`, `\<`/`\>`, `\S` inside a class, `[` inside a class
/// (`[[:alpha:]]` is a POSIX class only in Rust) and, when case-insensitive, non-ASCII
/// letters (case folding differs).
/// What remains — classes, alternation, anchors, groups, quantifiers — means the same.
///
/// ```
/// use slotwise::rules::regex::js_compatible;
/// assert!(js_compatible(r"^(mobile|tablet)\b", true).is_ok());
/// assert!(js_compatible(r"(?i)mobile", false).is_err());
/// assert!(js_compatible(r"\Astart", false).is_err());
/// assert!(js_compatible(r"\x41", false).is_ok());
/// assert!(js_compatible(r"\x{41}", false).is_err());
/// assert!(js_compatible(r"[^\s,]", false).is_ok());
/// assert!(js_compatible(r"[a\S]", false).is_err());
/// ```
pub fn js_compatible(source: &str, insensitive: bool) -> Result<(), &'static str> {
    let b = source.as_bytes();
    let mut in_class = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let Some(&next) = b.get(i + 1) else {
                    return Err("trailing backslash");
                };
                match next {
                    // Natively `\S` is rewritten to a negated class (Unicode white space
                    // as in JavaScript), which cannot sit inside another class.
                    b'S' if in_class => {
                        return Err("\\S inside a character class: use a negated class");
                    }
                    b'd' | b'D' | b'w' | b'W' | b's' | b'S' | b'n' | b'r' | b't' | b'f' | b'v' => {}
                    // `\x{41}` and `\u{41}` are code points in Rust, but `x`/`u` repeated
                    // 41 times in JavaScript without the `u` flag.
                    b'b' | b'B' | b'x' | b'u' if b.get(i + 2) != Some(&b'{') => {}
                    b'<' | b'>' => return Err("\\< and \\> mean different things in JavaScript"),
                    c if c.is_ascii_punctuation() => {}
                    c if c.is_ascii_digit() => return Err("back-references are not supported"),
                    _ => return Err("escape sequence JavaScript reads differently"),
                }
                i += 2;
                continue;
            }
            b'[' if in_class => return Err("'[' inside a character class: escape it as \\["),
            b'[' => {
                in_class = true;
                // A leading `]` or `^]` is literal in Rust but ends the class in JS.
                if b.get(i + 1) == Some(&b']')
                    || (b.get(i + 1) == Some(&b'^') && b.get(i + 2) == Some(&b']'))
                {
                    return Err("empty or ']'-leading character class reads differently");
                }
            }
            b']' if in_class => in_class = false,
            b'(' if !in_class && b.get(i + 1) == Some(&b'?') => match b.get(i + 2) {
                Some(b':' | b'=' | b'!' | b'<') => {}
                _ => return Err("inline flags and (?P<...>) are not JavaScript syntax"),
            },
            b'&' | b'-' | b'~' if in_class && b.get(i + 1) == Some(&b[i]) => {
                return Err("'&&', '--', '~~' inside a class are set operations only in Rust");
            }
            _ => {}
        }
        i += 1;
    }
    if insensitive && source.chars().any(|c| !c.is_ascii() && c.is_alphabetic()) {
        return Err("case-insensitive matching of non-ASCII letters is not portable");
    }
    Ok(())
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.insensitive == other.insensitive
    }
}

impl core::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("/")?;
        f.write_str(&self.source)?;
        f.write_str(if self.insensitive { "/i" } else { "/" })
    }
}

/// Wire form: source, then the case-insensitive flag (postcard order).
impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.source, self.insensitive).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (source, insensitive) = <(String, bool)>::deserialize(d)?;
        let re = Regex::new(&source, insensitive)
            .ok_or_else(|| serde::de::Error::custom("invalid regular expression"))?;
        Ok(Pattern {
            source,
            insensitive,
            re,
        })
    }
}
