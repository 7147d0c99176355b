//! The document value that conditions look at: page context, session facts, profile
//! claims and consent, all as one JSON-shaped tree.
//!
//! [`Value`] serializes with postcard (tagged, compact) for bundles and snapshots; JSON
//! text goes through the [`Json`] wrapper, which keeps object keys in JavaScript's
//! property order (array-index keys ascending, then insertion order) so that equality
//! behaves like GrowthBook's `JSON.stringify` comparison.

use serde::{Deserialize, Serialize};

use super::depth::guarded_serde;

/// A JSON-shaped value. Numbers are `f64`, as in JavaScript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub enum Value {
    /// `null` (also what a missing path reads as).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any number.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: keys in JavaScript property order, no duplicates.
    Object(Vec<(String, Value)>),
}

guarded_serde!(Value);

impl Value {
    /// Builds an object from pairs, normalising key order and duplicates like
    /// JavaScript does (later duplicates overwrite earlier ones in place).
    ///
    /// ```
    /// use slotwise::rules::Value;
    /// let v = Value::object(vec![("b".into(), Value::Null), ("1".into(), Value::Bool(true))]);
    /// let Value::Object(pairs) = v else { unreachable!() };
    /// assert_eq!(pairs[0].0, "1");
    /// ```
    pub fn object(pairs: Vec<(String, Value)>) -> Value {
        let mut out: Vec<(String, Value)> = Vec::with_capacity(pairs.len());
        // Linear search for small objects, an ordered index for large ones (no quadratic
        // blow-up on a hostile 100k-key request body).
        let mut index: std::collections::BTreeMap<String, usize> =
            std::collections::BTreeMap::new();
        let large = pairs.len() > 32;
        for (k, v) in pairs {
            let found = if large {
                index.get(&k).copied()
            } else {
                out.iter().position(|(ok, _)| *ok == k)
            };
            match found {
                Some(i) => out[i].1 = v,
                None => {
                    if large {
                        index.insert(k.clone(), out.len());
                    }
                    out.push((k, v));
                }
            }
        }
        // Stable sort: index keys first, ascending; other keys keep insertion order.
        out.sort_by_key(|(k, _)| array_index(k).unwrap_or(u64::MAX));
        Value::Object(out)
    }

    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::String(s.into())
    }

    /// The member `key` of an object, or element `key` of an array (canonical decimal
    /// index), or an array's `length`: what JavaScript's `key in value` finds for data.
    pub fn member(&self, key: &str) -> Option<Value> {
        match self {
            Value::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|p| p.1.clone()),
            Value::Array(items) => {
                if key == "length" {
                    return Some(Value::Number(items.len() as f64));
                }
                let i = array_index(key)?;
                items.get(usize::try_from(i).ok()?).cloned()
            }
            _ => None,
        }
    }

    /// Reads a dotted path (already split) the way GrowthBook's `getPath` does:
    /// anything missing reads as `Null`.
    ///
    /// ```
    /// use slotwise::rules::Value;
    /// let doc = Value::object(vec![("a".into(), Value::object(vec![("b".into(), Value::Number(2.0))]))]);
    /// assert_eq!(doc.path(&["a", "b"]), Value::Number(2.0));
    /// assert_eq!(doc.path(&["a", "c"]), Value::Null);
    /// ```
    pub fn path<S: AsRef<str>>(&self, parts: &[S]) -> Value {
        match self.path_ref(parts) {
            Some(PathRef::Borrowed(v)) => v.clone(),
            Some(PathRef::Length(n)) => Value::Number(n as f64),
            None => Value::Null,
        }
    }

    /// Like [`Value::path`] but borrowing where it can (an array's `length` is made).
    ///
    /// ```
    /// use slotwise::rules::Value;
    /// let doc = Value::object(vec![("a".into(), Value::Array(vec![Value::Null]))]);
    /// assert_eq!(*doc.read(&["a", "length"]), Value::Number(1.0));
    /// assert_eq!(*doc.read(&["b"]), Value::Null);
    /// ```
    pub fn read<S: AsRef<str>>(&self, parts: &[S]) -> std::borrow::Cow<'_, Value> {
        use std::borrow::Cow;
        match self.path_ref(parts) {
            Some(PathRef::Borrowed(v)) => Cow::Borrowed(v),
            Some(PathRef::Length(n)) => Cow::Owned(Value::Number(n as f64)),
            None => Cow::Owned(Value::Null),
        }
    }

    /// Like [`Value::path`] but borrowing; `None` means "reads as null".
    pub(crate) fn path_ref<'a, S: AsRef<str>>(&'a self, parts: &[S]) -> Option<PathRef<'a>> {
        let mut cur = self;
        for (i, part) in parts.iter().enumerate() {
            let key = part.as_ref();
            match cur {
                Value::Object(pairs) => cur = &pairs.iter().find(|(k, _)| same(k, key))?.1,
                Value::Array(items) => {
                    if key == "length" {
                        // `length` is a number: nothing further down is "in" it.
                        return if i + 1 == parts.len() {
                            Some(PathRef::Length(items.len()))
                        } else {
                            None
                        };
                    }
                    let idx = usize::try_from(array_index(key)?).ok()?;
                    cur = items.get(idx)?;
                }
                _ => return None,
            }
        }
        Some(PathRef::Borrowed(cur))
    }
}

/// What a path resolved to without copying.
pub(crate) enum PathRef<'a> {
    Borrowed(&'a Value),
    Length(usize),
}

/// `a == b` for the short keys and codes conditions compare, as a byte loop: in wasm
/// `==` on strings calls `memcmp`, a call that costs more than such a compare.
/// ```
/// assert!(slotwise::rules::value::same("US", "US"));
/// ```
#[inline]
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// A canonical JavaScript array index ("0", "17", not "01" or "-1"), if `key` is one.
pub(crate) fn array_index(key: &str) -> Option<u64> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    // Array indices stop at 2^32 - 2.
    (n < 4_294_967_295).then_some(n)
}

/// JSON text form of a [`Value`]: deserialize with `serde_json` (or any self-describing
/// format) through this wrapper.
///
/// ```
/// # fn main() -> Result<(), serde_json::Error> {
/// use slotwise::rules::{Json, Value};
/// let Json(v) = serde_json::from_str(r#"{"b": 1, "a": [true, null]}"#)?;
/// assert_eq!(v.path(&["a", "0"]), Value::Bool(true));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Json(pub Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor).map(Json)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Json(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some((k, Json(v))) = map.next_entry::<String, Json>()? {
            out.push((k, v));
        }
        Ok(Value::object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_follow_javascript_key_order_and_last_duplicate_wins() {
        let Json(v) =
            serde_json::from_str(r#"{"b": 1, "10": 2, "a": 3, "2": 4, "b": 5}"#).expect("parses");
        let Value::Object(pairs) = v else {
            panic!("object")
        };
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["2", "10", "b", "a"]);
        assert_eq!(pairs[2].1, Value::Number(5.0));
    }

    #[test]
    fn large_objects_dedupe_too() {
        let mut pairs: Vec<(String, Value)> = (0..100)
            .map(|i| (format!("k{i}"), Value::Number(i as f64)))
            .collect();
        pairs.push(("k7".into(), Value::Null));
        let Value::Object(out) = Value::object(pairs) else {
            panic!("object")
        };
        assert_eq!(out.len(), 100);
        assert_eq!(out[7], ("k7".into(), Value::Null));
    }
}
