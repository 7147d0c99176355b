//! A nesting limit for decoding the recursive rule types from untrusted bytes.
//!
//! postcard decodes recursively; without a limit, a few kilobytes of crafted bytes
//! (thousands of nested `$not`) would overflow the stack — an abort, not an error.
//! [`Cond`](super::Cond), [`Test`](super::Test) and [`Value`](super::Value) enter a
//! guard while they decode; past [`MAX_DECODE_DEPTH`] levels decoding fails with a
//! typed error. The compiler's own limits keep real bundles far below it.

use core::cell::Cell;

/// Nested `Cond` + `Test` + `Value` levels accepted while decoding.
pub const MAX_DECODE_DEPTH: u32 = 256;

std::thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// One level of nesting; dropping it leaves the level.
pub(crate) struct Guard(());

impl Guard {
    /// Enters a level, or fails with `custom("nested too deeply")` past the limit.
    pub(crate) fn enter<E: serde::de::Error>() -> Result<Guard, E> {
        DEPTH.with(|d| {
            let now = d.get();
            if now >= MAX_DECODE_DEPTH {
                return Err(E::custom("rules nested too deeply"));
            }
            d.set(now + 1);
            Ok(Guard(()))
        })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Implements `Serialize`/`Deserialize` for a type derived with
/// `#[serde(remote = "Self")]`, entering a [`Guard`] while deserializing.
macro_rules! guarded_serde {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let _guard = $crate::rules::depth::Guard::enter::<D::Error>()?;
                <$t>::deserialize(d)
            }
        }
    };
}
pub(crate) use guarded_serde;

#[cfg(test)]
mod tests {
    use crate::rules::{Cond, Value};

    #[test]
    fn deep_nesting_in_bytes_is_a_decode_error_not_a_stack_overflow() {
        // 100k nested `Not` (variant 2), then `Const(true)` (variant 4, true).
        let mut bytes = vec![2u8; 100_000];
        bytes.extend_from_slice(&[4, 1]);
        assert!(postcard::from_bytes::<Cond>(&bytes).is_err());
        // 100k nested one-element arrays (variant 4, length 1), then null.
        let mut bytes = [4u8, 1].repeat(100_000);
        bytes.push(0);
        assert!(postcard::from_bytes::<Value>(&bytes).is_err());
        // Within the limit decodes, and the counter is back to zero afterwards.
        let mut bytes = vec![2u8; 200];
        bytes.extend_from_slice(&[4, 1]);
        assert!(postcard::from_bytes::<Cond>(&bytes).is_ok());
        assert!(postcard::from_bytes::<Cond>(&bytes).is_ok());
    }
}
