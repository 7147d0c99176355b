//! Hand-written postcard primitives for the formats the browser module reads (the
//! bundle, session state, the page context) and writes (session state).
//!
//! serde's derived code for postcard is large in wasm (a visitor per type,
//! `Vec`/`Option` visitors per element type, the whole serializer); these few
//! functions read and write the same bytes.
//! The layout is postcard's (<https://postcard.jamesmunns.com/wire-format>):
//! `u8` is one raw byte, `u16`/`u32`/`u64`/lengths/enum variants are LEB128 varints
//! (at most 3 / 5 / 10 bytes, the last one's spare bits zero, as postcard checks;
//! lengths are `usize`, so their width is the target's), floats are little-endian,
//! a `bool` or an `Option`'s tag is a `0`/`1` byte. Each format's test compares these
//! encoders and decoders with postcard's over random values and random bytes.
//!
//! ```
//! use slotwise::wire::{Reader, Writer};
//! let mut w = Writer::default();
//! w.u32(300);
//! w.option_u32(None);
//! let mut r = Reader::new(&w.bytes);
//! assert_eq!((r.u32(), r.option_u32()), (Ok(300), Ok(None)));
//! assert!(r.is_empty());
//! ```

/// Why bytes do not decode: they end too soon (postcard's `DeserializeUnexpectedEnd`),
/// or they break the format (anything else postcard rejects).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fail {
    /// The input ends inside a value.
    End,
    /// An over-long varint, a bad `bool`/`Option` tag, an unknown enum variant,
    /// invalid UTF-8, or a value the format's own checks refuse.
    Bad,
}

/// The result of every read.
pub type Read<T> = Result<T, Fail>;

/// Reads postcard values from a byte slice.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// One raw byte (`u8`; an `i8` is the same byte).
    pub fn u8(&mut self) -> Read<u8> {
        let (&b, rest) = self.rest.split_first().ok_or(Fail::End)?;
        self.rest = rest;
        Ok(b)
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Read<&'a [u8]> {
        if n > self.rest.len() {
            return Err(Fail::End);
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    /// `N` raw bytes (a `[u8; N]`, or a little-endian float).
    pub fn array<const N: usize>(&mut self) -> Read<[u8; N]> {
        let (head, rest) = self.rest.split_first_chunk::<N>().ok_or(Fail::End)?;
        self.rest = rest;
        Ok(*head)
    }

    /// A varint of at most `max_bytes` whose last byte is at most `last_max`.
    fn varint(&mut self, max_bytes: u32, last_max: u8) -> Read<u64> {
        let mut out = 0u64;
        for i in 0..max_bytes {
            let b = self.u8()?;
            out |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return if i + 1 < max_bytes || b <= last_max {
                    Ok(out)
                } else {
                    Err(Fail::Bad)
                };
            }
        }
        Err(Fail::Bad)
    }

    /// A `u64` (varint).
    pub fn u64(&mut self) -> Read<u64> {
        self.varint(10, 0x01)
    }

    /// A `u32` (varint); also an enum's variant index.
    pub fn u32(&mut self) -> Read<u32> {
        self.varint(5, 0x0f).map(|v| v as u32)
    }

    /// A `u16` (varint).
    pub fn u16(&mut self) -> Read<u16> {
        self.varint(3, 0x03).map(|v| v as u16)
    }

    /// A `usize` (varint of the target's width): a sequence or string length.
    pub fn usize(&mut self) -> Read<usize> {
        if usize::BITS == 64 {
            self.u64().map(|v| v as usize)
        } else {
            self.u32().map(|v| v as usize)
        }
    }

    /// A `bool`: one byte, `0` or `1`.
    pub fn bool(&mut self) -> Read<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Fail::Bad),
        }
    }

    /// An `f32` (4 bytes, little-endian).
    pub fn f32(&mut self) -> Read<f32> {
        self.array().map(f32::from_le_bytes)
    }

    /// An `f64` (8 bytes, little-endian).
    pub fn f64(&mut self) -> Read<f64> {
        self.array().map(f64::from_le_bytes)
    }

    /// A `String`: a length, then UTF-8.
    pub fn string(&mut self) -> Read<String> {
        self.str().map(String::from)
    }

    /// A string borrowed from the input (no allocation).
    pub fn str(&mut self) -> Read<&'a str> {
        let n = self.usize()?;
        core::str::from_utf8(self.bytes(n)?).map_err(|_| Fail::Bad)
    }

    /// The next byte, not consumed.
    pub fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// A sequence length no larger than `max` (longer ones are refused before anything
    /// is allocated: for formats whose own checks refuse them anyway).
    pub fn len(&mut self, max: usize) -> Read<usize> {
        let n = self.usize()?;
        if n <= max { Ok(n) } else { Err(Fail::Bad) }
    }

    /// A sequence of at most `max` values, each read by `item` (a plain loop: an
    /// iterator `collect` into a `Result<Vec<_>>` costs several times its size in
    /// wasm; a `dyn` callback measured larger than this generic one).
    pub fn seq<T>(
        &mut self,
        max: usize,
        mut item: impl FnMut(&mut Reader<'a>) -> Read<T>,
    ) -> Read<Vec<T>> {
        let n = self.len(max)?;
        // Every value takes at least one byte: a hostile length cannot reserve more
        // than the input's size.
        let mut out = Vec::with_capacity(n.min(self.rest.len()));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// An `Option<T>`: a `0`/`1` byte, then the value.
    pub fn option<T>(&mut self, item: impl FnOnce(&mut Reader<'a>) -> Read<T>) -> Read<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => item(self).map(Some),
            _ => Err(Fail::Bad),
        }
    }

    /// An `Option<u32>`.
    pub fn option_u32(&mut self) -> Read<Option<u32>> {
        self.option(Reader::u32)
    }
}

/// Writes postcard values into a byte vector.
#[derive(Default)]
pub struct Writer {
    /// The bytes written so far.
    pub bytes: Vec<u8>,
}

impl Writer {
    /// One raw byte.
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    /// A `u32` (varint); also `u16`s, lengths and enum variant indices.
    pub fn u32(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.bytes.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.bytes.push(v as u8);
    }

    /// A sequence length.
    pub fn len(&mut self, n: usize) {
        self.u32(n as u32);
    }

    /// An `Option<u32>`.
    pub fn option_u32(&mut self, v: Option<u32>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u32(v);
            }
        }
    }
}
