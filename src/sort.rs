//! One small sort for the wasm build.
//!
//! The standard library's sorts are fast but large once monomorphised (sorting
//! networks, pattern-defeating quicksort: ~4–8 KB of wasm per element type). In wasm
//! this module is a heap sort (a few hundred bytes per instance, O(n log n), no
//! allocation); natively it is `slice::sort_unstable_by`. Callers give a total order,
//! so the two agree exactly.

use core::cmp::Ordering;

/// Sorts `v` by `cmp`, which must be a total order (ties broken by the caller).
///
/// ```
/// let mut v = [5, 1, 4, 2, 3];
/// slotwise::sort::sort_by(&mut v, |a, b| a.cmp(b));
/// assert_eq!(v, [1, 2, 3, 4, 5]);
/// ```
pub fn sort_by<T, F: FnMut(&T, &T) -> Ordering>(v: &mut [T], mut cmp: F) {
    // Callers often re-sort after a small change (session affinities after each
    // event): an ordered slice is left as it is, the heap sort would redo it all.
    if v.is_sorted_by(|a, b| cmp(a, b) != Ordering::Greater) {
        return;
    }
    #[cfg(target_arch = "wasm32")]
    heap_sort(v, cmp);
    #[cfg(not(target_arch = "wasm32"))]
    v.sort_unstable_by(cmp);
}

/// Heap sort (used in wasm; public so native tests can check it against std).
pub fn heap_sort<T, F: FnMut(&T, &T) -> Ordering>(v: &mut [T], mut cmp: F) {
    let len = v.len();
    let mut sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && cmp(&v[child], &v[child + 1]) == Ordering::Less {
            child += 1;
        }
        if cmp(&v[root], &v[child]) != Ordering::Less {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    for start in (0..len / 2).rev() {
        sift(v, start, len);
    }
    for end in (1..len).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_sort_agrees_with_std_on_many_inputs() {
        let mut x: u64 = 1;
        for len in 0..200 {
            let mut v: Vec<(u8, usize)> = (0..len)
                .map(|i| {
                    x = crate::hex::splitmix64(x);
                    ((x % 7) as u8, i)
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_unstable();
            heap_sort(&mut v, |a, b| a.cmp(b));
            assert_eq!(v, expected, "len {len}");
        }
    }
}
