//! Hand-written postcard primitives for the small formats the browser module both
//! reads and writes (session state).
//!
//! serde's derived code for postcard costs about 4 KB gzip in the browser module for
//! the session alone (a visitor per type, `Vec`/`Option`/array visitors per element
//! type, the whole serializer); these few functions read and write the same bytes.
//! The layout is postcard's (<https://postcard.jamesmunns.com/wire-format>):
//! `u8` is one raw byte, `u16`/`u32`/lengths/enum variants are LEB128 varints (at
//! most 3 / 5 bytes, the last one's spare bits zero, as postcard checks), an
//! `Option` is a `0`/`1` byte before its value. Each format's test compares these
//! encoders and decoders with postcard's over random values and random bytes.
//!
//! ```
//! use slotwise::wire::{Reader, Writer};
//! let mut w = Writer::default();
//! w.u32(300);
//! w.option_u32(None);
//! let mut r = Reader::new(&w.bytes);
//! assert_eq!((r.u32(), r.option_u32()), (Some(300), Some(None)));
//! assert!(r.is_empty());
//! ```

/// Reads postcard values from a byte slice. Every method returns `None` on bytes that
/// postcard would reject (end of input, an over-long varint, a bad `Option` tag).
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

    /// One raw byte.
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    /// `N` raw bytes (a `[u8; N]`).
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*head)
    }

    /// A varint of at most `max_bytes` whose last byte is at most `last_max`.
    fn varint(&mut self, max_bytes: u32, last_max: u8) -> Option<u32> {
        let mut out = 0u32;
        for i in 0..max_bytes {
            let b = self.u8()?;
            out |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return (i + 1 < max_bytes || b <= last_max).then_some(out);
            }
        }
        None
    }

    /// A `u32` (varint).
    pub fn u32(&mut self) -> Option<u32> {
        self.varint(5, 0x0f)
    }

    /// A `u16` (varint).
    pub fn u16(&mut self) -> Option<u16> {
        self.varint(3, 0x03).map(|v| v as u16)
    }

    /// A sequence length no larger than `max` (a `Vec`'s prefix). Longer lengths are
    /// refused before anything is allocated.
    pub fn len(&mut self, max: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= max).then_some(n)
    }

    /// A sequence of at most `max` values, each read by `item` (a plain loop: an
    /// iterator `collect` into `Option<Vec<_>>` costs several times its size in wasm).
    pub fn seq<T>(
        &mut self,
        max: usize,
        mut item: impl FnMut(&mut Reader<'a>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let n = self.len(max)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Some(out)
    }

    /// An `Option<u32>`.
    pub fn option_u32(&mut self) -> Option<Option<u32>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.u32().map(Some),
            _ => None,
        }
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
