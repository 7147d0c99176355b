//! Lower-case hex for ids, without `format!` (which costs ~25 KB in wasm).

/// Sixteen lower-case hex digits of `value`, most significant first.
///
/// ```
/// assert_eq!(slotwise::hex::u64_hex(0xdead_beef), "00000000deadbeef");
/// ```
pub fn u64_hex(value: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    for shift in (0..16).rev() {
        out.push(DIGITS[((value >> (shift * 4)) & 0xf) as usize] as char);
    }
    out
}

/// SplitMix64: a tiny, well-mixed, deterministic step for deriving ids from a seed.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
