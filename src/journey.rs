//! Journey items in decisions: what the visitor left behind, shown first.
//!
//! The origin runs journeys (an abandoned cart, say: see `origin/src/journeys`) and
//! puts the items of a subject's active journey into the snippet's `journey` claim
//! ([`crate::profile::Claims::journey`]); server-side channels decide with the same
//! claim. The engine then pins those items first, in claim order, in every slot that
//! admits them — the slot's candidate list names the item (an empty list admits every
//! item) and the slot's rules, purchases and caps leave it eligible — after rule pins
//! and experiment arms, with [`crate::decide::Reason::Journey`]. A journey item is
//! still shown at most once per page; the rest of the slot is ranked as usual.

/// The journey items a slot shows first: those of `journey` that `candidates` admits
/// and `eligible` accepts, in order, at most `count`.
///
/// ```
/// let picked = slotwise::journey::pick(&[7, 3, 9], &[3, 9, 4], 1, |_| true);
/// assert_eq!(picked, vec![3]);
/// let picked = slotwise::journey::pick(&[7, 3], &[], 4, |item| item != 7);
/// assert_eq!(picked, vec![3]);
/// ```
pub fn pick(
    journey: &[u32],
    candidates: &[u32],
    count: usize,
    mut eligible: impl FnMut(u32) -> bool,
) -> Vec<u32> {
    let mut out = Vec::new();
    for &item in journey {
        if out.len() >= count {
            break;
        }
        let admitted = candidates.is_empty() || candidates.contains(&item);
        if admitted && !out.contains(&item) && eligible(item) {
            out.push(item);
        }
    }
    out
}
