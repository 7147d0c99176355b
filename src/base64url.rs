//! Base64url without padding (RFC 4648 §5): the text form of every Slotwise token.
//!
//! Snippets and session state travel in cookies and `localStorage`, so their text form
//! is the URL- and cookie-safe alphabet `A–Z a–z 0–9 - _` with no `=` padding. The
//! decoder is strict: it rejects padding, whitespace, foreign characters, impossible
//! lengths (`len % 4 == 1`) and non-zero trailing bits, so every byte string has exactly
//! one accepted text form (no malleable tokens). It is a few dozen lines, cheaper in
//! wasm than a general-purpose crate.
//!
//! ```
//! use slotwise::base64url;
//! let text = base64url::encode(b"SWP1");
//! assert_eq!(text, "U1dQMQ");
//! assert_eq!(base64url::decode(&text).unwrap(), b"SWP1");
//! assert_eq!(base64url::decode("U1dQMR").unwrap_err().code(), "base64.invalid");
//! ```

use crate::error::{Error, ErrorKind};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The 6-bit value of one base64url character, or `None` for any other byte.
pub fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Length of the text form of `n` bytes.
pub const fn encoded_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// Encodes bytes as base64url without padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..chunk.len() + 1 {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

/// Decodes strict, unpadded base64url. Never panics.
pub fn decode(text: &str) -> Result<Vec<u8>, Error> {
    let bad = || Error::new(ErrorKind::Base64, "not unpadded base64url");
    let input = text.as_bytes();
    if input.len() % 4 == 1 {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for chunk in input.chunks(4) {
        let mut n: u32 = 0;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(sextet(c).ok_or_else(bad)?) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        // Bits past the last whole byte must be zero: one text form per byte string.
        if bytes[keep..].iter().any(|&b| b != 0) {
            return Err(bad());
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 §10, without padding.
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, text) in cases {
            assert_eq!(encode(raw), text);
            assert_eq!(decode(text).unwrap(), raw);
        }
    }

    #[test]
    fn url_alphabet() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode("-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn rejects_padding_foreign_chars_and_bad_lengths() {
        for text in ["Zg==", "Zm9v\n", "Zm+v", "Zm/v", "Z", "Zm9vY", " Zg"] {
            assert_eq!(
                decode(text).unwrap_err().kind(),
                ErrorKind::Base64,
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_non_zero_trailing_bits() {
        assert!(decode("Zg").is_ok());
        assert!(decode("Zh").is_err());
        assert!(decode("Zm8").is_ok());
        assert!(decode("Zm9").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_round_trip(bytes: Vec<u8>) {
            proptest::prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn accepted_text_is_canonical(text in "[A-Za-z0-9_=+/ -]{0,40}") {
            if let Ok(bytes) = decode(&text) {
                proptest::prop_assert_eq!(encode(&bytes), text);
            }
        }
    }

    #[test]
    fn round_trips_all_lengths() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..data.len() {
            let text = encode(&data[..len]);
            assert_eq!(text.len(), encoded_len(len));
            assert_eq!(decode(&text).unwrap(), &data[..len]);
        }
    }
}
