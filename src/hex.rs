//! Number → text for ids and prices, without `format!` (which costs ~25 KB in wasm),
//! and the SplitMix64 mixer ids are derived with.

/// Sixteen lower-case hex digits of `value`, most significant first.
///
/// ```
/// assert_eq!(slotwise::hex::u64_hex(0xdead_beef), "00000000deadbeef");
/// ```
pub fn u64_hex(value: u64) -> String {
    let mut out = String::with_capacity(16);
    push_u64_hex(&mut out, value);
    out
}

/// [`u64_hex`] appended to `out` (no allocation when it has room).
pub fn push_u64_hex(out: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(DIGITS[((value >> (shift * 4)) & 0xf) as usize] as char);
    }
}

/// Decimal digits of `value`, without `format!`.
///
/// ```
/// assert_eq!(slotwise::hex::u64_decimal(1207), "1207");
/// assert_eq!(slotwise::hex::u64_decimal(0), "0");
/// ```
pub fn u64_decimal(mut value: u64) -> String {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (value % 10) as u8;
        n += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    digits[..n].iter().rev().map(|&d| d as char).collect()
}

/// SplitMix64: a tiny, well-mixed, deterministic step for deriving ids from a seed.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
