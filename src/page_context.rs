//! The page context as the package sends it to the engine: postcard bytes of a
//! [`Value`] (empty: none), or — the package's usual form — [`KEYED`] followed by a
//! postcard array of one value per key of [`crate::decide::Engine::context_keys`], in
//! that order (`null` for an attribute the page does not have). The keyed form
//! carries no key strings, and builds favouring speed ([`crate::SPEED`]) rewrite a
//! previous request's context in place (its keys and string buffers kept), so a
//! page's context costs no allocation once warm.

use crate::bundle::read::value;
use crate::rules::Value;
use crate::wire::{Read, Reader};

/// First byte of the keyed form (not a `Value` tag: those are 0..=5).
pub const KEYED: u8 = 6;

/// Postcard's tag of `Value::Array` (a varint, one byte).
const ARRAY: u32 = 4;

/// Postcard's tag of `Value::String`.
const STRING: u8 = 3;

/// Decodes `bytes` into `out`: the keyed form becomes an object of `keys` (absent
/// attributes `null`, which conditions read as a missing one); any other bytes are a
/// postcard `Value`. Bytes that do not decode give `Value::Null` (no context), as a
/// malformed context always has.
pub fn decode_into(bytes: &[u8], keys: &[String], out: &mut Value) {
    let (keyed, body) = match bytes.split_first() {
        Some((&KEYED, values)) => (true, values),
        _ => (false, bytes),
    };
    if keyed && crate::SPEED && rewrite_keyed(body, keys, out) {
        return;
    }
    let value = match body {
        [] => Value::Null,
        _ => value(&mut Reader::new(body)).unwrap_or(Value::Null),
    };
    *out = match value {
        Value::Array(values) if keyed && values.len() == keys.len() => {
            Value::Object(keys.iter().cloned().zip(values).collect())
        }
        _ if keyed => Value::Null,
        value => value,
    };
}

/// The keyed form's array into `out` in place (made an object of `keys` first
/// unless it is one); false when the bytes are not exactly one value per key.
fn rewrite_keyed(bytes: &[u8], keys: &[String], out: &mut Value) -> bool {
    let mut r = Reader::new(bytes);
    if r.u32() != Ok(ARRAY) || r.usize() != Ok(keys.len()) {
        return false;
    }
    let reusable = matches!(out, Value::Object(pairs)
        if pairs.len() == keys.len() && pairs.iter().zip(keys).all(|((k, _), key)| k == key));
    if !reusable {
        *out = Value::Object(keys.iter().map(|k| (k.clone(), Value::Null)).collect());
    }
    let Value::Object(pairs) = out else {
        return false;
    };
    for (_, slot) in pairs.iter_mut() {
        if read_value(&mut r, slot).is_err() {
            return false;
        }
    }
    r.is_empty()
}

/// One postcard `Value` from `r` into `slot` (a string into the string `slot`
/// already holds, if it does).
fn read_value(r: &mut Reader, slot: &mut Value) -> Read<()> {
    if let (Some(STRING), Value::String(kept)) = (r.peek(), &mut *slot) {
        r.u8()?;
        let text = r.str()?;
        kept.clear();
        kept.push_str(text);
        return Ok(());
    }
    *slot = value(r)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<String> {
        ["country", "device", "cart_value"]
            .map(String::from)
            .to_vec()
    }

    fn keyed(values: &[Value]) -> Vec<u8> {
        let mut bytes = vec![KEYED];
        bytes.extend(postcard::to_allocvec(&Value::Array(values.to_vec())).unwrap());
        bytes
    }

    fn object(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn keyed_values_become_an_object_of_the_engines_keys() {
        let mut out = Value::Null;
        let bytes = keyed(&[Value::String("US".into()), Value::Null, Value::Number(12.5)]);
        decode_into(&bytes, &keys(), &mut out);
        let want = [
            ("country", Value::String("US".into())),
            ("device", Value::Null),
            ("cart_value", Value::Number(12.5)),
        ];
        assert_eq!(out, object(&want));
        // The next page's context rewrites the same object, strings included.
        let bytes = keyed(&[
            Value::String("France".into()),
            Value::String("mobile".into()),
            Value::Bool(true),
        ]);
        decode_into(&bytes, &keys(), &mut out);
        let want = [
            ("country", Value::String("France".into())),
            ("device", Value::String("mobile".into())),
            ("cart_value", Value::Bool(true)),
        ];
        assert_eq!(out, object(&want));
        // Nested values decode as postcard values.
        let list = Value::Array(vec![Value::Number(1.0), Value::String("a".into())]);
        let bytes = keyed(&[list.clone(), Value::Null, Value::Null]);
        decode_into(&bytes, &keys(), &mut out);
        let want = [
            ("country", list),
            ("device", Value::Null),
            ("cart_value", Value::Null),
        ];
        assert_eq!(out, object(&want));
    }

    #[test]
    fn a_postcard_value_and_empty_bytes_decode_as_before() {
        let mut out = Value::Bool(true);
        decode_into(&[], &keys(), &mut out);
        assert_eq!(out, Value::Null);
        let context = object(&[("path", Value::String("/shoes".into()))]);
        decode_into(&postcard::to_allocvec(&context).unwrap(), &keys(), &mut out);
        assert_eq!(out, context);
    }

    #[test]
    fn malformed_keyed_bytes_are_no_context() {
        let full = keyed(&[Value::String("US".into()), Value::Null, Value::Null]);
        let four = [Value::Null, Value::Null, Value::Null, Value::Null];
        for bytes in [
            full[..full.len() - 1].to_vec(),                     // a value short
            keyed(&four),                                        // a value too many
            vec![KEYED, ARRAY as u8, 3, 3, 2, 0xff, 0xfe, 0, 0], // a string that is not UTF-8
            vec![KEYED, ARRAY as u8, 3, 9, 0, 0],                // not a value tag
            vec![KEYED, 0],                                      // not an array
        ] {
            // From nothing, and over a previous page's context (rewritten in place).
            for after_a_page in [false, true] {
                let mut out = Value::Null;
                if after_a_page {
                    decode_into(&full, &keys(), &mut out);
                    assert_ne!(out, Value::Null);
                }
                decode_into(&bytes, &keys(), &mut out);
                assert_eq!(out, Value::Null, "{bytes:?}");
            }
        }
    }
}
